// Aspire mode: compiled only with -p:UseAspire=true (a container runtime and the Aspire packages at hand). The same
// first run as local mode: the development admin key, a key-ring key made once and kept, the sample receiver
// subscribed through the API as soon as the API is ready, and trace ids on the dashboard linked to Aspire's.
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Webhooks.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

// Parameters:admin-api-key overrides the development key; Parameters:keyring-key is generated on the first run and
// kept in the AppHost's user secrets, as the key ring it encrypts lives on in the Postgres volume.
var adminKey = builder.AddParameter("admin-api-key", new DefaultValue(() => AppHostDefaults.AdminApiKey), secret: true);
var keyRingKey = builder.AddParameter("keyring-key", new DefaultValue(() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
    secret: true, persist: true);
var sampleSecret = builder.Configuration["SampleReceiver:Secret"] ?? AppHostDefaults.SampleReceiverSecret;

var postgres = builder.AddPostgres("postgres").WithDataVolume();
var database = postgres.AddDatabase("webhooksdb");
var redis = builder.AddRedis("redis");

var api = builder.AddProject<Projects.Webhooks_Api>("api")
    .WithReference(database)
    .WithReference(redis)
    .WaitFor(database)
    .WaitFor(redis)
    .WithEnvironment("Webhooks__AdminApiKey", adminKey)
    .WithEnvironment("Webhooks__KeyRingKey", keyRingKey)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();
// The Aspire dashboard answers at the AppHost's own URL (launchSettings.json's applicationUrl).
if (AppHostDefaults.FirstHttpUrl(builder.Configuration["ASPNETCORE_URLS"]) is { } dashboard)
{
    api.WithEnvironment("Webhooks__Dashboard__TraceUrlTemplate", AppHostDefaults.TraceUrlTemplate(dashboard));
}

builder.AddProject<Projects.Webhooks_Worker>("worker")
    .WithReplicas(2)
    .WithReference(database)
    .WithReference(redis)
    .WaitFor(database)
    .WaitFor(redis)
    .WaitFor(api)
    .WithEnvironment("Webhooks__AdminApiKey", adminKey)
    .WithEnvironment("Webhooks__KeyRingKey", keyRingKey)
    .WithHttpHealthCheck("/health");

// The receiver SDK's sample app, as a receiving team would run it.
var sample = builder.AddProject<Projects.Webhooks_SampleReceiver>("sample-receiver")
    .WithEnvironment("Webhooks__Receiver__Secrets__0", sampleSecret)
    .WithHttpHealthCheck("/health");

// Once the API is healthy, subscribe the sample receiver to order.created through the public API, as local mode does.
api.OnResourceReady(async (resource, ready, ct) =>
{
    var apiUrl = new Uri(resource.GetEndpoint("http").Url);
    var receiverUrl = new Uri(new Uri(sample.GetEndpoint("http").Url), "/webhooks");
    var key = await adminKey.Resource.GetValueAsync(ct) ?? AppHostDefaults.AdminApiKey;
    var application = await SampleSubscription.EnsureAsync(apiUrl, key, receiverUrl, sampleSecret, ct);
    ready.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Webhooks.AppHost").LogInformation(
        "Sample receiver {ReceiverUrl} subscribed to order.created in application '{Application}'; publish with the admin key (parameter admin-api-key) to {ApiUrl}api/v1/apps/{Application}/messages",
        receiverUrl, application, apiUrl, application);
});

builder.Build().Run();
