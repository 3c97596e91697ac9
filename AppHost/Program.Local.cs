// Local mode: the default where no container runtime or Aspire package is at hand. A process supervisor,
// not a second Aspire: Postgres and Redis from the machine's binaries, then the API and two workers as
// child processes with the configuration keys Aspire would inject. Ctrl+C (or SIGTERM) stops them all.
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
var adminKey = local["AdminApiKey"] ?? "wh_admin_dev_0000000000000000000000000000";
var samplePort = local.GetValue("SampleReceiverPort", 5100);
var sampleSecret = local["SampleReceiverSecret"] ?? "whsec_c2FtcGxlLXJlY2VpdmVyLWRldmVsb3BtZW50LXNlY3JldA==";

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
if (missing.Count > 0)
{
    foreach (var problem in missing)
    {
        Console.Error.WriteLine("error: " + problem);
    }
    return 1;
}

var children = new List<ChildProcess>();
LocalPostgres? postgres = null;
LocalRedis? redis = null;
var exitCode = 0;
try
{
    postgres = await LocalPostgres.StartAsync(Path.Combine(dataDirectory, "postgres"), postgresPort, Print, ["webhooksdb"], ct: stopping.Token);
    redis = await LocalRedis.StartAsync(Path.Combine(dataDirectory, "redis"), redisPort, Print, stopping.Token);

    var otlp = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
    Dictionary<string, string?> EnvironmentFor(string service, int port) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_URLS"] = $"http://localhost:{port}",
        ["ConnectionStrings__webhooksdb"] = postgres.ConnectionString("webhooksdb"),
        ["ConnectionStrings__redis"] = redis.ConnectionString,
        ["Webhooks__AdminApiKey"] = adminKey,
        ["OTEL_SERVICE_NAME"] = service,
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp,
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
    };

    var services = new List<(ChildProcess Process, Uri Url)>();
    var api = ServiceProject.Api(repositoryRoot).Start("api", buildConfiguration, EnvironmentFor("api", apiPort), Print);
    children.Add(api);
    services.Add((api, new Uri($"http://localhost:{apiPort}/")));
    for (var i = 0; i < workerPorts.Length; i++)
    {
        var worker = ServiceProject.Worker(repositoryRoot).Start($"worker-{i + 1}", buildConfiguration, EnvironmentFor("worker", workerPorts[i]), Print);
        children.Add(worker);
        services.Add((worker, new Uri($"http://localhost:{workerPorts[i]}/")));
    }
    // The receiver SDK's sample app, as a receiving team would run it, subscribed to the sample events.
    var sample = ServiceProject.SampleReceiver(repositoryRoot).Start("sample-receiver", buildConfiguration, new Dictionary<string, string?>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_URLS"] = $"http://localhost:{samplePort}",
        ["Webhooks__Receiver__Secrets__0"] = sampleSecret,
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
    }, Print);
    children.Add(sample);
    services.Add((sample, new Uri($"http://localhost:{samplePort}/")));
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
    Print(otlp is null
        ? "  traces: set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector or dashboard"
        : $"  traces: exported to {otlp}");
    Print("All services healthy. Press Ctrl+C to stop.");
    Print("");

    var exited = Task.WhenAny(children.Select(c => c.WaitForExitAsync()));
    await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, stopping.Token)).ContinueWith(_ => { });
    if (!stopping.IsCancellationRequested)
    {
        var dead = children.First(c => c.HasExited);
        Console.Error.WriteLine($"error: {dead.Name} exited with code {dead.ExitCode}; stopping the stack.");
        exitCode = 1;
    }
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
    await Task.WhenAll(children.Select(c => c.StopAsync(TimeSpan.FromSeconds(15))));
    if (redis is not null)
    {
        await redis.DisposeAsync();
    }
    if (postgres is not null)
    {
        await postgres.DisposeAsync();
    }
    Print("Stopped.");
}
return exitCode;
