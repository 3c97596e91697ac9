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

builder.Build().Run();
