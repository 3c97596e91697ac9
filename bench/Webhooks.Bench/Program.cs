// Measures the delivery engine on this machine, every part sharing it: raw signed-HTTP rate, end-to-end
// deliveries per second (publish → signed POST verified by the SDK → attempt recorded) on 1 and 50 endpoints,
// ordered (fifo, 100 keys) against unordered delivery, publish-to-receipt latency at a fixed offered load, worker memory,
// and the claim cost at 10 k and 1 M pending (mixed priorities).
// Usage: dotnet run -c Release --project bench/Webhooks.Bench [-- --deliveries 20000 --pending 1000000 --workers 1]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.AppHost.Local;
using Webhooks.Bench;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Receiver.Sdk;
using Webhooks.Worker.Dispatch;

var options = ParseArgs(args);
var deliveries = options.GetValueOrDefault("deliveries", 20_000);
var pending = options.GetValueOrDefault("pending", 1_000_000);
var workerCount = options.GetValueOrDefault("workers", 1);
var offeredRate = options.GetValueOrDefault("rate", 200);
var latencySeconds = options.GetValueOrDefault("seconds", 15);

var (root, configuration) = ServiceProject.BuildInfo(typeof(BenchReceiver).Assembly);
Console.WriteLine($"Webhooks.Aspire benchmark ({configuration} build, {Environment.ProcessorCount} cores, {workerCount} worker(s))");
if (!string.Equals(configuration, "Release", StringComparison.Ordinal))
{
    Console.WriteLine("warning: not a Release build; run with -c Release for representative figures");
}
var problems = await Prerequisites.EnsureAsync(Console.WriteLine);
if (problems.Count > 0)
{
    problems.ToList().ForEach(Console.Error.WriteLine);
    return 1;
}

var work = Path.Combine(Path.GetTempPath(), $"webhooks-bench-{Environment.ProcessId}");
var log = Path.Combine(work, "services.log");
Directory.CreateDirectory(work);
void Log(string line)
{
    lock (log)
    {
        File.AppendAllText(log, line + Environment.NewLine);
    }
}

await using var postgres = await LocalPostgres.StartAsync(Path.Combine(work, "pg"), LocalPostgres.FreePort(), Log, ["webhooksdb"], durable: true);
await using var redis = await LocalRedis.StartAsync(Path.Combine(work, "redis"), LocalPostgres.FreePort(), Log);
var adminKey = "wh_bench_" + Guid.NewGuid().ToString("N");
// BENCH_PG_SLOW_MS=50: Postgres logs every statement slower than that into the services log.
if (Environment.GetEnvironmentVariable("BENCH_PG_SLOW_MS") is { } slowMs && int.TryParse(slowMs, CultureInfo.InvariantCulture, out var slow))
{
    await using var connection = new NpgsqlConnection(postgres.ConnectionString("webhooksdb"));
    await connection.OpenAsync();
    // With the plan (auto_explain, analyzed) of each such statement, for new sessions.
    await using (var load = new NpgsqlCommand("LOAD 'auto_explain'", connection))
    {
        await load.ExecuteNonQueryAsync();
    }
    foreach (var setting in new[] { $"log_min_duration_statement = {slow}", "session_preload_libraries = 'auto_explain'",
                 $"auto_explain.log_min_duration = {slow}", "auto_explain.log_analyze = on" })
    {
        await using var set = new NpgsqlCommand("ALTER SYSTEM SET " + setting, connection);
        await set.ExecuteNonQueryAsync();
    }
    await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", connection);
    await reload.ExecuteScalarAsync();
}
var database = postgres.ConnectionString("webhooksdb");
var keyRingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
Dictionary<string, string?> ServiceEnvironment(int port) => new()
{
    ["ASPNETCORE_ENVIRONMENT"] = "Production",
    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
    ["ConnectionStrings__webhooksdb"] = database,
    ["ConnectionStrings__redis"] = redis.ConnectionString,
    ["Webhooks__AdminApiKey"] = adminKey,
    ["Webhooks__KeyRingKey"] = keyRingKey,
    ["Webhooks__Delivery__AllowPrivateNetworks"] = "true",
    ["Logging__LogLevel__Default"] = "Warning",
    ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
    ["Logging__Console__FormatterName"] = "simple",
    ["Logging__Console__FormatterOptions__SingleLine"] = "true",
    ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
    ["Logging__LogLevel__Webhooks"] = System.Environment.GetEnvironmentVariable("BENCH_LOG_LEVEL") ?? "Warning",
};
var apiPort = LocalPostgres.FreePort();
var api = ServiceProject.Api(root).Start("api", configuration, ServiceEnvironment(apiPort), Log);
await ServiceProject.WaitHealthyAsync(api, new Uri($"http://127.0.0.1:{apiPort}/"), TimeSpan.FromSeconds(90));
var workers = new List<ChildProcess>();
for (var i = 0; i < workerCount; i++)
{
    var port = LocalPostgres.FreePort();
    var worker = ServiceProject.Worker(root).Start($"worker-{i + 1}", configuration, ServiceEnvironment(port), Log);
    await ServiceProject.WaitHealthyAsync(worker, new Uri($"http://127.0.0.1:{port}/"), TimeSpan.FromSeconds(90));
    workers.Add(worker);
}
var memory = new MemorySampler(workers.Select(w => w.Id).ToArray());
// Ctrl+C or SIGTERM ends the run and its servers (the in-process receiver's host would otherwise swallow the signal).
void Abort(PosixSignalContext context)
{
    context.Cancel = true;
    foreach (var child in workers.Append(api))
    {
        child.Kill();
    }
    redis.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
    postgres.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(30));
    System.Environment.Exit(130);
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Abort);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Abort);

var secret = WebhookSecret.Generate().ToString();
await using var receiver = await BenchReceiver.StartAsync(secret);
var client = WebhooksClientExtensions.Create(new Uri($"http://127.0.0.1:{apiPort}/"), adminKey);
using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}/") };
http.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
var results = new List<(string Name, string Value)>();

// 1. Raw signed-HTTP rate: the worker's own sender loop, straight to the receiver, nothing stored.
{
    var sender = new WebhookSender(DeliveryHttp.Create(Options.Create(new DeliveryOptions { AllowPrivateNetworks = true })), TimeProvider.System,
        new Webhooks.Core.Data.SecretProtector(new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider()));
    var payload = JsonSerializer.Serialize(new { orderId = 1, total = 42.5, note = "benchmark" });
    var url = new Uri(receiver.Url, "webhooks/raw").ToString();
    ClaimedDelivery Make(int n) => new(n, 0, $"msg_raw_{n}", "bench", payload, DateTimeOffset.UtcNow, null, "ep_raw", "app_raw", url, secret,
        null, null, [], 15, null, null);
    await SendAllAsync(sender, Enumerable.Range(0, 2000).Select(Make).ToList(), 128); // warm-up
    receiver.Arrivals.Clear();
    var batch = Enumerable.Range(10_000, deliveries).Select(Make).ToList();
    var started = Stopwatch.GetTimestamp();
    await SendAllAsync(sender, batch, 128);
    var elapsed = Stopwatch.GetElapsedTime(started);
    var rate = deliveries / elapsed.TotalSeconds;
    results.Add(("raw signed HTTP (sender → SDK receiver)", $"{rate:N0} /s"));
    Console.WriteLine($"raw: {deliveries} signed requests in {elapsed.TotalSeconds:0.00} s = {rate:N0}/s (receiver verified {receiver.Arrivals.Count})");

    // 2 and 3. End to end on 1 and on 50 endpoints.
    foreach (var endpointCount in new[] { 1, 50 })
    {
        var app = await client.CreateApplicationAsync(new ApplicationIn($"bench-{endpointCount}"));
        for (var e = 0; e < endpointCount; e++)
        {
            await client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(receiver.Url, $"webhooks/e{e}").ToString(), Secret: secret, RetrySchedule: [0, 1, 5]));
        }
        var messages = deliveries / endpointCount;
        receiver.Arrivals.Clear();
        memory.Reset();
        started = Stopwatch.GetTimestamp();
        var perBatch = Math.Max(1, Math.Min(500, 5000 / endpointCount));
        await Parallel.ForEachAsync(Enumerable.Range(0, messages).Chunk(perBatch), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
        {
            var input = new MessageBatchIn(chunk.Select(n => new MessageIn("bench", JsonSerializer.SerializeToElement(new { orderId = n, total = 42.5 }))).ToList());
            using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", input, ct);
            response.EnsureSuccessStatusCode();
        });
        var published = Stopwatch.GetElapsedTime(started);
        var total = messages * endpointCount;
        while (receiver.Arrivals.FirstSeen.Count < total)
        {
            await Task.Delay(20);
        }
        var received = Stopwatch.GetElapsedTime(started);
        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            while (true)
            {
                await using var count = new NpgsqlCommand("SELECT count(*) FROM deliveries WHERE application_id = @app AND status = 'succeeded'", connection);
                count.Parameters.AddWithValue("app", app.Id);
                if ((long)(await count.ExecuteScalarAsync())! >= total)
                {
                    break;
                }
                await Task.Delay(20);
            }
        }
        var recorded = Stopwatch.GetElapsedTime(started);
        var e2e = total / recorded.TotalSeconds;
        results.Add(($"end to end, {endpointCount} endpoint(s)", $"{e2e:N0} /s ({e2e / rate:P0} of raw)"));
        results.Add(($"  worker peak RSS during it", $"{memory.PeakMiB:N0} MiB"));
        Console.WriteLine($"e2e {endpointCount} endpoint(s): {total} deliveries; published in {published.TotalSeconds:0.00} s, " +
            $"all received at {received.TotalSeconds:0.00} s, all recorded at {recorded.TotalSeconds:0.00} s = {e2e:N0}/s " +
            $"(ratio to raw {e2e / rate:0.00}); worker peak RSS {memory.PeakMiB:N0} MiB");
    }
    results.AddRange(await OrderingBench.RunAsync(client, http, receiver, secret, database, deliveries, rate));
}

// 4. Latency at a fixed offered load: single publishes, paced.
{
    var app = await client.CreateApplicationAsync(new ApplicationIn("bench-latency"));
    await client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(receiver.Url, "webhooks/lat").ToString(), Secret: secret));
    // The same paced load twice: 3 s to warm up (JIT, pools, connections), discarded; then the measured run.
    async Task<(System.Collections.Concurrent.ConcurrentDictionary<string, long> SentAt, double[] PublishMs)> PacedAsync(int seconds)
    {
        receiver.Arrivals.Clear();
        var sentAt = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var publishMs = new System.Collections.Concurrent.ConcurrentBag<double>();
        var count = offeredRate * seconds;
        var interval = TimeSpan.FromSeconds(1.0 / offeredRate);
        var start = Stopwatch.GetTimestamp();
        var inFlight = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)(interval.TotalSeconds * i * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < due)
            {
                var wait = TimeSpan.FromSeconds((double)(due - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait);
                }
            }
            var n = i;
            inFlight.Add(Task.Run(async () =>
            {
                var t0 = Stopwatch.GetTimestamp();
                var message = await client.PublishAsync(app.Id, new MessageIn("bench", JsonSerializer.SerializeToElement(new { n })));
                sentAt[message.Id + " lat"] = t0;
                publishMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }));
        }
        await Task.WhenAll(inFlight);
        while (receiver.Arrivals.FirstSeen.Count < count)
        {
            await Task.Delay(20);
        }
        return (sentAt, publishMs.Order().ToArray());
    }
    await PacedAsync(3);
    var (sentAt, publishSorted) = await PacedAsync(latencySeconds);
    var latencies = sentAt.Select(kv => Stopwatch.GetElapsedTime(kv.Value, receiver.Arrivals.FirstSeen[kv.Key]).TotalMilliseconds).Order().ToArray();
    double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)];
    results.Add(($"publish → receipt at {offeredRate} msg/s, p50", $"{Percentile(0.50):0.0} ms"));
    results.Add(($"publish → receipt at {offeredRate} msg/s, p99", $"{Percentile(0.99):0.0} ms"));
    Console.WriteLine($"publish call alone: p50 {publishSorted[publishSorted.Length / 2]:0.0} ms, p99 {publishSorted[(int)(publishSorted.Length * 0.99)]:0.0} ms");
    Console.WriteLine($"latency at {offeredRate}/s for {latencySeconds} s: p50 {Percentile(0.5):0.0} ms, p90 {Percentile(0.9):0.0} ms, p99 {Percentile(0.99):0.0} ms, max {latencies[^1]:0.0} ms");
}
results.Add(("worker RSS after the runs", $"{memory.CurrentMiB():N0} MiB"));

// 5. Claim cost with 10 k and 1 M deliveries due: the workers stop, the claim runs alone.
foreach (var worker in workers)
{
    await worker.StopAsync(TimeSpan.FromSeconds(20));
}
{
    await using var dataSource = NpgsqlDataSource.Create(database);
    var store = new DeliveryStore(dataSource);
    var app = await client.CreateApplicationAsync(new ApplicationIn("bench-claim"));
    var endpoint = await client.CreateEndpointAsync(app.Id, new EndpointIn("http://127.0.0.1:9/none"));
    var have = 0;
    foreach (var size in new[] { 10_000, pending })
    {
        var started = Stopwatch.GetTimestamp();
        await using (var command = dataSource.CreateCommand("""
            INSERT INTO messages (id, application_id, event_type, payload, channels, created_at)
            SELECT 'msg_bench_' || g, @app, 'bench', '{"n":1}', '{}', now() FROM generate_series(@from, @to) g;
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempt_count, next_attempt_at, trigger, priority, created_at, updated_at)
            SELECT 'msg_bench_' || g, @endpoint, @app, 'pending', 0, now() - interval '1 hour' * random(), 'scheduled', floor(random() * 10)::smallint, now(), now()
            FROM generate_series(@from, @to) g;
            """))
        {
            command.CommandTimeout = 600;
            command.Parameters.AddWithValue("app", app.Id);
            command.Parameters.AddWithValue("endpoint", endpoint.Id);
            command.Parameters.AddWithValue("from", have + 1);
            command.Parameters.AddWithValue("to", size);
            await command.ExecuteNonQueryAsync();
        }
        // Steady state has autovacuum: clear the previous series' claimed rows out of the due index first.
        await using (var vacuum = dataSource.CreateCommand("VACUUM (ANALYZE) deliveries"))
        {
            vacuum.CommandTimeout = 600;
            await vacuum.ExecuteNonQueryAsync();
        }
        have = size;
        Console.WriteLine($"claim: {size:N0} due deliveries inserted in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        var limits = new DeliveryStore.ClaimLimits(128, 128, 128, 128, new Dictionary<string, int>(), new Dictionary<string, int>(), []);
        for (var i = 0; i < 5; i++)
        {
            await store.ClaimAsync("bench", limits, 30, CancellationToken.None);
        }
        var timings = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var claimed = await store.ClaimAsync("bench", limits, 30, CancellationToken.None);
            timings.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (claimed.Count != 128)
            {
                throw new InvalidOperationException($"claimed {claimed.Count}, expected 128");
            }
        }
        timings.Sort();
        // The candidate scan must read the claim order from its index, never sort every due row.
        await using (var explain = dataSource.CreateCommand($"""
            EXPLAIN SELECT d.id FROM deliveries d WHERE {Webhooks.Core.Delivery.DeliveryLifecycle.Due("d")}
            ORDER BY {Webhooks.Core.Delivery.DeliveryLifecycle.ClaimOrder("d")} LIMIT 512
            """))
        {
            var lines = new List<string>();
            await using (var reader = await explain.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    lines.Add(reader.GetString(0).Trim());
                }
            }
            var plan = string.Join(" / ", lines);
            Console.WriteLine($"claim candidates with {size:N0} due: {plan}");
            if (!plan.Contains("ix_deliveries_due", StringComparison.Ordinal))
            {
                results.Add(($"claim candidates with {size:N0} due", "NOT an index scan of ix_deliveries_due: " + plan));
            }
        }
        results.Add(($"claim of 128 with {size:N0} due, median", $"{timings[timings.Count / 2]:0.00} ms"));
        Console.WriteLine($"claim with {size:N0} due: median {timings[timings.Count / 2]:0.00} ms, max {timings[^1]:0.00} ms");
    }
}

Console.WriteLine();
Console.WriteLine("| measure | figure |");
Console.WriteLine("| --- | --- |");
foreach (var (name, value) in results)
{
    Console.WriteLine($"| {name} | {value} |");
}
await api.StopAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"(service logs: {log})");
return 0;

static async Task SendAllAsync(WebhookSender sender, List<ClaimedDelivery> batch, int concurrency)
{
    await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (delivery, ct) =>
    {
        var result = await sender.SendAsync(delivery, ct);
        if (!result.Attempt.Succeeded)
        {
            throw new InvalidOperationException($"raw send failed: {result.Attempt.ErrorMessage} {result.Attempt.ResponseStatus}");
        }
    });
}

static Dictionary<string, int> ParseArgs(string[] args)
{
    var parsed = new Dictionary<string, int>();
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        parsed[args[i].TrimStart('-')] = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
    }
    return parsed;
}

/// <summary>Samples the workers' resident memory every 100 ms.</summary>
internal sealed class MemorySampler
{
    private readonly int[] _pids;
    private long _peak;

    public MemorySampler(int[] pids)
    {
        _pids = pids;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var now = Current();
                if (now > Interlocked.Read(ref _peak))
                {
                    Interlocked.Exchange(ref _peak, now);
                }
                await Task.Delay(100);
            }
        });
    }

    public double PeakMiB => Interlocked.Read(ref _peak) / 1024.0;

    public double CurrentMiB() => Current() / 1024.0;

    public void Reset() => Interlocked.Exchange(ref _peak, 0);

    // Largest VmRSS (KiB) among the workers.
    private long Current() => _pids.Select(pid =>
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }).DefaultIfEmpty(0).Max();
}
