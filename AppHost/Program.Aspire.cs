// Aspire mode: compiled only with -p:UseAspire=true (a container runtime and the Aspire packages at hand).
var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddPostgres("postgres").WithDataVolume();
var database = postgres.AddDatabase("webhooksdb");
var redis = builder.AddRedis("redis");

var api = builder.AddProject<Projects.Webhooks_Api>("api")
    .WithReference(database)
    .WithReference(redis)
    .WaitFor(database)
    .WaitFor(redis)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

builder.AddProject<Projects.Webhooks_Worker>("worker")
    .WithReplicas(2)
    .WithReference(database)
    .WithReference(redis)
    .WaitFor(database)
    .WaitFor(redis)
    .WaitFor(api)
    .WithHttpHealthCheck("/health");

// The receiver SDK's sample app. (Local mode also subscribes it through the API; here, publish to an
// endpoint created for http://…/webhooks with this secret.)
builder.AddProject<Projects.Webhooks_SampleReceiver>("sample-receiver")
    .WithEnvironment("Webhooks__Receiver__Secrets__0", builder.Configuration["SampleReceiver:Secret"] ?? "whsec_c2FtcGxlLXJlY2VpdmVyLWRldmVsb3BtZW50LXNlY3JldA==")
    .WithHttpHealthCheck("/health");

builder.Build().Run();
