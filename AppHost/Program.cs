// The stack: Postgres and Redis, the API (and its console) on 5080, two workers, the sample receiver, and the Aspire
// dashboard on 18888 (Properties/launchSettings.json). See docs/architecture.md, "The AppHost".
using Microsoft.Extensions.DependencyInjection;
using Webhooks.AppHost;
using Webhooks.AppHost.Data;
using Webhooks.AppHost.Lifecycle;

var builder = DistributedApplication.CreateBuilder(args);
var settings = StackSettings.From(builder.Configuration);
var dataPath = settings.DataPath(builder.AppHostDirectory);
var useContainers = settings.UseContainers();
if (!useContainers && await MachineBinaries.EnsureAsync(Console.WriteLine) is { } missing)
{
    Console.Error.WriteLine("error: " + missing);
    return 1;
}

// Parameters:admin-api-key overrides the development key; the key-ring key is made once and kept with the data.
var adminKey = builder.AddParameter("admin-api-key", new DefaultValue(() => AppHostDefaults.AdminApiKey), secret: true);
// With containers the data lives in a volume, so the key is kept in the AppHost's user secrets (persisted parameter).
var keyRingKey = useContainers
    ? builder.AddParameter("keyring-key", new DefaultValue(() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))),
        secret: true, persist: true)
    : builder.AddParameter("keyring-key", new DefaultValue(() => AppHostDefaults.KeyRingKey(dataPath)), secret: true);
var sampleSecret = builder.Configuration["SampleReceiver:Secret"] ?? AppHostDefaults.SampleReceiverSecret;

IResourceBuilder<IResourceWithConnectionString> database, redis;
try
{
    (database, redis) = useContainers
        ? ContainerData.Add(builder, WebhooksDatabase.Name)
        : await ExecutableData.AddAsync(builder, settings, dataPath, WebhooksDatabase.Name);
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    return 1;
}

var dashboardUrl = AppHostDefaults.FirstHttpUrl(builder.Configuration["ASPNETCORE_URLS"]);
var api = builder.AddProject<Projects.Webhooks_Api>("api")
    .WithReference(database, WebhooksDatabase.Name)
    .WithReference(redis, "redis")
    .WaitFor(database)
    .WaitFor(redis)
    .WithEnvironment("Webhooks__AdminApiKey", adminKey)
    .WithEnvironment("Webhooks__KeyRingKey", keyRingKey)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();
if (dashboardUrl is not null)
{
    // Trace ids in the console link to the Aspire dashboard's trace page.
    api.WithEnvironment("Webhooks__Dashboard__TraceUrlTemplate", AppHostDefaults.TraceUrlTemplate(dashboardUrl));
}

builder.AddProject<Projects.Webhooks_Worker>("worker")
    .WithReplicas(settings.Workers)
    .WithReference(database, WebhooksDatabase.Name)
    .WithReference(redis, "redis")
    // After the API: it migrates the database and makes the data protection key that workers only read.
    .WaitFor(api)
    .WithEnvironment("Webhooks__AdminApiKey", adminKey)
    .WithEnvironment("Webhooks__KeyRingKey", keyRingKey)
    .WithHttpHealthCheck("/health");

// The receiver SDK's sample app, as a receiving team would run it.
var sample = builder.AddProject<Projects.Webhooks_SampleReceiver>("sample-receiver")
    .WithEnvironment("Webhooks__Receiver__Secrets__0", sampleSecret)
    .WithHttpHealthCheck("/health");

if (PortCheck.Conflicts(builder) is { Count: > 0 } taken)
{
    foreach (var conflict in taken)
    {
        Console.Error.WriteLine($"error: {conflict} is in use by another program. Stop it, or change the port (see docs/architecture.md, \"The AppHost\").");
    }
    return 2;
}

builder.Services.AddSingleton(new StackAddresses(api, sample, adminKey, sampleSecret, dashboardUrl,
    builder.Configuration["AppHost:BrowserToken"], useContainers ? "containers" : $"executables (data in {dataPath})"));
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddHostedService<FirstRun>();
builder.Services.AddHostedService<CrashRestarts>();

await builder.Build().RunAsync();
return 0;

/// <summary>The connection name of the webhooks database, as the services read it (ConnectionStrings:webhooksdb).</summary>
internal static class WebhooksDatabase
{
    public const string Name = "webhooksdb";
}
