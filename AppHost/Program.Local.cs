// Local mode: the default where no container runtime or Aspire package is at hand. A process supervisor,
// not a second Aspire: Postgres and Redis from the machine's binaries, then the API and two workers as
// child processes with the configuration keys Aspire would inject. One that crashes is restarted with
// backoff while the others keep running; Ctrl+C (or SIGTERM) stops them all, services before Postgres and Redis.
// 'dotnet run' applies Properties/launchSettings.json here too: of its variables, local mode reads only the dashboard's
// address (applicationUrl, as ASPNETCORE_URLS) and OTLP endpoint, for the Aspire dashboard it starts when one is configured.
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Webhooks.AppHost;
using Webhooks.AppHost.Local;

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();
var local = configuration.GetSection("Local");
var (repositoryRoot, buildConfiguration) = ServiceProject.BuildInfo(typeof(ServiceProject).Assembly);
var dataDirectory = Path.Combine(repositoryRoot, local["DataDirectory"] ?? ".apphost");
var postgresPort = local.GetValue("PostgresPort", 15432);
var redisPort = local.GetValue("RedisPort", 16379);
var apiPort = local.GetValue("ApiPort", 5080);
var workerPorts = local.GetSection("WorkerPorts").Get<int[]>() ?? [5091, 5092];
var adminKey = local["AdminApiKey"] ?? AppHostDefaults.AdminApiKey;
var samplePort = local.GetValue("SampleReceiverPort", 5100);
var sampleSecret = local["SampleReceiverSecret"] ?? AppHostDefaults.SampleReceiverSecret;
// The key that encrypts the data protection key ring (and so, through it, the endpoints' signing secrets) at rest:
// made once per data directory and kept beside it, never in the database.
var keyRingKeyFile = Path.Combine(dataDirectory, "keyring.key");
if (!File.Exists(keyRingKeyFile))
{
    Directory.CreateDirectory(dataDirectory);
    File.WriteAllText(keyRingKeyFile, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
    if (!OperatingSystem.IsWindows())
    {
        File.SetUnixFileMode(keyRingKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
var keyRingKey = File.ReadAllText(keyRingKeyFile).Trim();

var consoleLock = new object();
void Print(string line)
{
    lock (consoleLock)
    {
        Console.Out.WriteLine(line);
    }
}

using var stopping = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopping.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopping.Cancel(); });
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; stopping.Cancel(); });

Print("Webhooks.Aspire AppHost — local mode (no container runtime: Postgres and Redis from this machine's binaries).");
var missing = await Prerequisites.EnsureAsync(Print);
LocalDashboard? dashboard = null;
try
{
    dashboard = LocalDashboard.Find(configuration);
}
catch (InvalidOperationException ex)
{
    missing = [.. missing, ex.Message];
}
if (missing.Count > 0)
{
    foreach (var problem in missing)
    {
        Console.Error.WriteLine("error: " + problem);
    }
    return 1;
}

await using var supervisor = new Supervisor(Print, stopping: stopping.Token);
var exitCode = 0;
try
{
    // Every child runs in a session of its own: Ctrl+C in the terminal reaches only this process, which stops the
    // services first and Postgres and Redis after them, instead of all of them at once.
    var postgres = await LocalPostgres.PrepareAsync(Path.Combine(dataDirectory, "postgres"), postgresPort, Print, ownSession: true);
    var postgresServer = await supervisor.StartAsync("postgres", postgres.StartServerAsync, _ => postgres.StopServerAsync(), ct: stopping.Token);
    await postgres.CreateDatabaseAsync("webhooksdb");
    var redis = LocalRedis.Prepare(Path.Combine(dataDirectory, "redis"), redisPort, Print, ownSession: true);
    var redisServer = await supervisor.StartAsync("redis", redis.StartServerAsync, _ => redis.StopServerAsync(), ct: stopping.Token);
    SupervisedProcess[] data = [postgresServer, redisServer];

    // With an Aspire dashboard, every service exports its traces, metrics and logs to it, and trace ids link to it.
    if (dashboard is not null)
    {
        var dashboardProcess = await supervisor.StartAsync("dashboard", () => dashboard.Start(Print, ownSession: true), ct: stopping.Token);
        await ServiceProject.WaitHealthyAsync(dashboardProcess.Process, dashboard.Url, TimeSpan.FromSeconds(60), stopping.Token);
    }
    var otlp = dashboard?.OtlpUrl.ToString() ?? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
    Dictionary<string, string?> EnvironmentFor(string service, int port) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_URLS"] = $"http://localhost:{port}",
        ["ConnectionStrings__webhooksdb"] = postgres.ConnectionString("webhooksdb"),
        ["ConnectionStrings__redis"] = redis.ConnectionString,
        ["Webhooks__AdminApiKey"] = adminKey,
        ["Webhooks__KeyRingKey"] = keyRingKey,
        ["OTEL_SERVICE_NAME"] = service,
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp,
        ["Webhooks__Dashboard__TraceUrlTemplate"] = dashboard?.TraceUrlTemplate,
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
    };

    // A restarted service gets the same port and environment: the delegate below is what starts it every time.
    var services = new List<(ChildProcess Process, Uri Url)>();
    async Task StartServiceAsync(string name, ServiceProject project, IReadOnlyDictionary<string, string?> environment, int port, IReadOnlyList<SupervisedProcess> dependsOn)
    {
        var service = await supervisor.StartAsync(name, () => project.Start(name, buildConfiguration, environment, Print, ownSession: true), dependsOn, stopping.Token);
        services.Add((service.Process, new Uri($"http://localhost:{port}/")));
    }
    await StartServiceAsync("api", ServiceProject.Api(repositoryRoot), EnvironmentFor("api", apiPort), apiPort, data);
    // Workers after the API is healthy, as Aspire mode's WaitFor(api): the API migrates the database and makes the data
    // protection key that workers only read, so a first start does not show them failing to find one.
    await ServiceProject.WaitHealthyAsync(services[0].Process, services[0].Url, TimeSpan.FromSeconds(90), stopping.Token);
    for (var i = 0; i < workerPorts.Length; i++)
    {
        await StartServiceAsync($"worker-{i + 1}", ServiceProject.Worker(repositoryRoot), EnvironmentFor("worker", workerPorts[i]), workerPorts[i], data);
    }
    // The receiver SDK's sample app, as a receiving team would run it, subscribed to the sample events.
    await StartServiceAsync("sample-receiver", ServiceProject.SampleReceiver(repositoryRoot), new Dictionary<string, string?>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_URLS"] = $"http://localhost:{samplePort}",
        ["Webhooks__Receiver__Secrets__0"] = sampleSecret,
        ["OTEL_SERVICE_NAME"] = "sample-receiver",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp,
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
    }, samplePort, []);
    // A service that exits before it was ever healthy fails the start: that is a build or configuration to fix.
    await Task.WhenAll(services.Select(s => ServiceProject.WaitHealthyAsync(s.Process, s.Url, TimeSpan.FromSeconds(90), stopping.Token)));
    var sampleApp = await SampleSubscription.EnsureAsync(new Uri($"http://localhost:{apiPort}/"), adminKey,
        new Uri($"http://localhost:{samplePort}/webhooks"), sampleSecret, stopping.Token);

    Print("");
    Print($"  postgres   127.0.0.1:{postgresPort}  (data: {Path.Combine(dataDirectory, "postgres")})");
    Print($"  redis      127.0.0.1:{redisPort}");
    Print($"  api        http://localhost:{apiPort}  (OpenAPI: /openapi/v1.json, reference UI: /scalar)");
    Print($"  dashboard  http://localhost:{apiPort}/dashboard  (sign in with an API key, e.g. the admin key below)");
    for (var i = 0; i < workerPorts.Length; i++)
    {
        Print($"  worker-{i + 1}   http://localhost:{workerPorts[i]}/health");
    }
    Print($"  sample     http://localhost:{samplePort}/webhooks  (application '{sampleApp}', subscribed to order.created)");
    Print($"  admin API key: {adminKey}");
    Print(dashboard is not null
        ? $"  traces     {dashboard.Url}  (Aspire dashboard: traces, metrics and logs of every service; OTLP at {otlp})"
        : otlp is null
            ? "  traces: set Local:AspireDashboardPath (or ASPIRE_DASHBOARD_PATH) to an Aspire dashboard build to start one, or OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector"
            : $"  traces: exported to {otlp}");
    Print("All services healthy. A service that crashes is restarted; press Ctrl+C to stop.");
    Print("");

    await Task.Delay(Timeout.Infinite, stopping.Token);
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine("error: " + ex.Message);
    exitCode = 1;
}
finally
{
    Print("Stopping…");
    await supervisor.StopAsync();
    Print("Stopped.");
}
return exitCode;
