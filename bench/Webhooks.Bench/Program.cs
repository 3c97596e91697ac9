// Measures the delivery engine on this machine, every part sharing it: raw signed-HTTP rate, end-to-end
// deliveries per second (publish → signed POST verified by the SDK → attempt recorded) on 1 and 50 endpoints,
// the publish rate on 50 endpoints with and without payload filters, publish-to-receipt latency at a fixed offered load, worker memory, and the claim cost at 10 k and 1 M pending,
// and the in-process cost of shaping a request (chat adapters, transformations; TransformBench.cs),
// ordered (fifo, 100 keys) against unordered delivery (OrderingBench.cs).
// Usage: dotnet run -c Release --project bench/Webhooks.Bench [-- --deliveries 20000 --pending 1000000 --workers 2
//        --rates 200,1000 --seconds 15 --soak 300 --soak-rate 300 --workers-curve 4]
// --soak N: also a paced run of N seconds (reported in 15-s windows); --workers-curve 4: end to end on 50 endpoints with
// 1, 2 and 4 worker processes.
// (--transform-only 1: only the in-process cost of chat adapters and transformations)
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Testing.Processes;
using Webhooks.Bench;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Receiver.Sdk;
using Webhooks.Worker.Dispatch;

var options = ParseArgs(args);
var deliveries = options.GetValueOrDefault("deliveries", 20_000);
var pending = options.GetValueOrDefault("pending", 1_000_000);
var workerCount = options.GetValueOrDefault("workers", 2);
var offeredRates = options.GetValueOrDefault("rates", "200,1000").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
var latencySeconds = options.GetValueOrDefault("seconds", 15);
var soakSeconds = options.GetValueOrDefault("soak", 0);
var soakRate = options.GetValueOrDefault("soak-rate", 300);
var workersCurve = options.GetValueOrDefault("workers-curve", 0);
var compareFlush = options.GetValueOrDefault("compare-flush", 0);
// --only-latency 1: only the paced runs (and the soak), e.g. with BENCH_PG_SLOW_MS to catch what stalls them.
var onlyLatency = options.GetValueOrDefault("only-latency", 0) == 1;
// --only single,e2e50: only these scenarios (e2e1, e2e1wide, e2e50, single, filters, ordering, scripts, latency, claim), for
// profiling one path (each may repeat: --repeat 3).
var only = options.GetValueOrDefault("only", "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
var repeat = options.GetValueOrDefault("repeat", 1);
bool Runs(string scenario) => only.Count == 0 || only.Contains(scenario);

if (options.Values.ContainsKey("transform-only"))
{
    // --transform-only 1: the in-process shaping figures alone (no Postgres, no services).
    Console.WriteLine("| measure | figure |");
    Console.WriteLine("| --- | --- |");
    foreach (var (name, value) in TransformBench.Run().ToList())
    {
        Console.WriteLine($"| {name} | {value} |");
    }
    return 0;
}

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

// pg_stat_statements (statistics only, no change to how anything runs): where Postgres's time goes, per statement.
await using var postgres = await LocalPostgres.StartAsync(Path.Combine(work, "pg"), LocalPostgres.FreePort(), Log, ["webhooksdb"], durable: true,
    settings: ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_planning=on"]);
await using (var connection = new NpgsqlConnection(postgres.ConnectionString("webhooksdb")))
{
    await connection.OpenAsync();
    await using var create = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", connection);
    await create.ExecuteNonQueryAsync();
}
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
// BENCH_DB_OPTIONS="Max Auto Prepare=0;No Reset On Close=false": the services' connection settings, for an A/B run.
var serviceDatabase = database + (Environment.GetEnvironmentVariable("BENCH_DB_OPTIONS") is { Length: > 0 } extra ? ";" + extra : "");
var keyRingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
Dictionary<string, string?> BaseEnvironment(int port) => new()
{
    ["ASPNETCORE_ENVIRONMENT"] = "Production",
    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
    ["ConnectionStrings__webhooksdb"] = serviceDatabase,
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
// BENCH_SERVICE_ENV="DOTNET_TieredPGO=0;DOTNET_TC_CallCountingDelayMs=0": runtime settings of the API and workers only (not
// of this process and its receiver), for an A/B of start-up settings.
Dictionary<string, string?> ServiceEnvironment(int port)
{
    var environment = BaseEnvironment(port);
    foreach (var pair in (System.Environment.GetEnvironmentVariable("BENCH_SERVICE_ENV") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
    {
        var equals = pair.IndexOf('=', StringComparison.Ordinal);
        environment[pair[..equals]] = pair[(equals + 1)..];
    }
    return environment;
}
var apiPort = LocalPostgres.FreePort();
var api = ServiceProject.Api(root).Start("api", configuration, ServiceEnvironment(apiPort), Log);
await ServiceProject.WaitHealthyAsync(api, new Uri($"http://127.0.0.1:{apiPort}/"), TimeSpan.FromSeconds(90));
var workers = new List<ChildProcess>();
var memory = new MemorySampler();
// Stops the running workers and starts `count` fresh ones (the worker-count curve restarts them between runs).
async Task StartWorkersAsync(int count, IReadOnlyDictionary<string, string?>? settings = null)
{
    foreach (var running in workers)
    {
        await running.StopAsync(TimeSpan.FromSeconds(20));
    }
    workers.Clear();
    for (var i = 0; i < count; i++)
    {
        var port = LocalPostgres.FreePort();
        var environment = ServiceEnvironment(port);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }
        var worker = ServiceProject.Worker(root).Start($"worker-{i + 1}", configuration, environment, Log);
        await ServiceProject.WaitHealthyAsync(worker, new Uri($"http://127.0.0.1:{port}/"), TimeSpan.FromSeconds(90));
        workers.Add(worker);
    }
    memory.Watch(workers.Select(w => w.Id).ToArray());
}
await StartWorkersAsync(workerCount);
// Publishing with the workers stopped (then started again, and everything delivered before the next scenario).
async Task PublishAloneAsync(BenchRun run)
{
    await StartWorkersAsync(0);
    var alone = await Scenarios.PublishAloneAsync(run, deliveries, 32);
    await StartWorkersAsync(workerCount);
    await alone.DrainedAsync();
    run.Add("publishing alone (no worker running), batches of 500 × 2 at a time, 50 endpoints", $"{alone.BatchMessagesPerSecond:N0} msg/s");
    run.Add("publishing alone, single calls from 32 clients", $"{alone.SingleMessagesPerSecond:N0} msg/s");
}
// A scenario, metered: Postgres's WAL, rows and CPU (with the API's and the workers') per 1,000 of its deliveries, and
// the statements Postgres spent the most time on (pg_stat_statements), printed; the scenario's result and its cost.
async Task<(T Result, CostMeter.Snapshot Cost)> MeteredAsync<T>(string what, long counted, Func<Task<T>> scenario)
{
    var meter = new CostMeter(database, () => [api.Id], () => workers.Select(w => w.Id).ToArray());
    var before = await meter.TakeAsync();
    await meter.ResetStatementsAsync();
    var result = await scenario();
    var cost = (await meter.TakeAsync()).Minus(before);
    Console.WriteLine($"cost per 1,000 {what}: {cost.Per1000(counted)}");
    (await meter.TopStatementsAsync(counted)).ForEach(line => Console.WriteLine("  " + line));
    return (result, cost);
}
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
// A scenario that throws must not leave the API and workers running on (their Postgres is stopped on the way out).
AppDomain.CurrentDomain.UnhandledException += (_, _) =>
{
    foreach (var child in workers.Append(api))
    {
        child.Kill();
    }
};
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

    var run = new BenchRun(client, http, receiver, secret, database, results);

    // The peer (BullMqPeer.cs): the same 50-endpoint workload through BullMQ; its worker is started at its first round.
    BullMqPeer? bullmq = null;
    var ours = new List<double>();
    var theirs = new List<double>();
    async Task PeerRoundAsync()
    {
        bullmq ??= await BullMqPeer.StartAsync(work, secret, Log);
        var peerRate = await bullmq.RunAsync(receiver, deliveries, 50);
        theirs.Add(peerRate);
        results.Add(("BullMQ peer, 50 endpoints (Node worker at concurrency 64, Redis AOF everysec)", $"{peerRate:N0} /s ({peerRate / rate:0.00} of raw)"));
    }

    // 2. End to end on 1 endpoint (the default cap, then raised), and on 50 endpoints; publishing alone in batches.
    if (only.Count > 0)
    {
        for (var round = 0; round < repeat; round++)
        {
            if (Runs("e2e1"))
            {
                var one = await Scenarios.EndToEndAsync(run, 1, deliveries);
                results.Add(("end to end, 1 endpoint; its publishing", $"{one.DeliveriesPerSecond:N0} /s; {one.MessagesPerSecond:N0} msg/s"));
            }
            if (Runs("e2e1wide"))
            {
                var wide = await Scenarios.EndToEndAsync(run, 1, deliveries, maxInFlight: 128);
                results.Add(("end to end, 1 endpoint with maxInFlight 128", $"{wide.DeliveriesPerSecond:N0} /s"));
            }
            if (Runs("e2e50"))
            {
                var (fifty, cost) = await MeteredAsync("deliveries (50 endpoints, publish included)", deliveries,
                    () => Scenarios.EndToEndAsync(run, 50, deliveries));
                ours.Add(fifty.DeliveriesPerSecond);
                results.Add(("end to end, 50 endpoints; its publishing", $"{fifty.DeliveriesPerSecond:N0} /s; {fifty.MessagesPerSecond:N0} msg/s"));
                results.Add(("  its cost per 1,000 deliveries", cost.Per1000(deliveries)));
            }
            if (Runs("bullmq"))
            {
                await PeerRoundAsync();
            }
            if (Runs("single"))
            {
                await MeteredAsync("single publishes (delivered too, warm-up included)", 5500, async () =>
                {
                    await Scenarios.SinglePublishAsync(run, 32, 5000);
                    return 0;
                });
            }
            if (Runs("alone"))
            {
                await PublishAloneAsync(run);
            }
            if (Runs("filters"))
            {
                results.AddRange(await FilterBench.RunAsync(client, http, receiver.Url, deliveries));
            }
            if (Runs("ordering"))
            {
                results.AddRange(await OrderingBench.RunAsync(run, deliveries, rate));
            }
            if (Runs("scripts"))
            {
                results.AddRange(await ScriptBench.RunAsync(client, http, TimeSpan.FromSeconds(latencySeconds)));
            }
        }
    }
    else if (!onlyLatency)
    {
        var one = await Scenarios.EndToEndAsync(run, 1, deliveries);
        results.Add(("publish in batches (500 × 2 at a time, 1 endpoint, workers draining)", $"{one.MessagesPerSecond:N0} msg/s"));
        results.Add(("end to end, 1 endpoint (16 in flight per worker)", $"{one.DeliveriesPerSecond:N0} /s ({one.DeliveriesPerSecond / rate:0.00} of raw)"));
        var wide = await Scenarios.EndToEndAsync(run, 1, deliveries, maxInFlight: 128);
        results.Add(("end to end, 1 endpoint with maxInFlight 128", $"{wide.DeliveriesPerSecond:N0} /s ({wide.DeliveriesPerSecond / rate:0.00} of raw)"));
        var (fifty, cost) = await MeteredAsync("deliveries (50 endpoints, publish included)", deliveries,
            () => Scenarios.EndToEndAsync(run, 50, deliveries));
        results.Add(("  its cost per 1,000 deliveries", cost.Per1000(deliveries)));
        results.Add(("end to end, 50 endpoints (distinct 1 KiB messages, each to one, publish included)", $"{fifty.DeliveriesPerSecond:N0} /s ({fifty.DeliveriesPerSecond / rate:0.00} of raw)"));
        results.Add(("  its publishing (20,000 messages, batches of 500 × 2 at a time)", $"{fifty.MessagesPerSecond:N0} msg/s"));
        ours.Add(fifty.DeliveriesPerSecond);
        await PeerRoundAsync();

        // 3. Single publishes from 32 clients.
        await Scenarios.SinglePublishAsync(run, 32, 5000);

        // 3a. Publishing alone: the workers stopped.
        await PublishAloneAsync(run);

        // 3b. The cost of payload filters on the publish statement (FilterBench.cs).
        results.AddRange(await FilterBench.RunAsync(client, http, receiver.Url, deliveries));

        // 3c. Ordered (fifo, 100 keys) against unordered delivery on one endpoint (OrderingBench.cs).
        results.AddRange(await OrderingBench.RunAsync(run, deliveries, rate));
    }

    // 4. Latency at fixed offered loads, and the optional soak.
    foreach (var offered in Runs("latency") ? offeredRates : [])
    {
        await Scenarios.LatencyAsync(run, offered, latencySeconds);
    }
    // One endpoint at its default cap (16 in flight per worker) delivers well under 1,000/s; the same load with the cap raised.
    if (Runs("latency") && offeredRates.Any(r => r >= 1000))
    {
        await Scenarios.LatencyAsync(run, offeredRates.Max(), latencySeconds, maxInFlight: 128);
    }
    if (soakSeconds > 0)
    {
        await Scenarios.SoakAsync(run, soakRate, soakSeconds);
    }
    results.Add(("worker peak RSS over the runs; now", $"{memory.PeakMiB:N0} MiB; {memory.CurrentMiB():N0} MiB"));
    if (ours.Count > 0 && theirs.Count > 0)
    {
        // Round by round: the first is cold for both (fresh services, a fresh Node worker), the last the warmest.
        var ratios = ours.Zip(theirs, (a, b) => (a / b).ToString("0.00", CultureInfo.InvariantCulture));
        results.Add(("end to end, 50 endpoints, against the BullMQ peer (each round; the first cold)", string.Join(" / ", ratios) + " ×"));
    }
    if (bullmq is not null)
    {
        await bullmq.DisposeAsync();
    }

    // Recording without waiting for the WAL flush (the default) against waiting for it, alternated, end to end on 50 endpoints.
    if (compareFlush > 0)
    {
        var rates = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        for (var round = 0; round < compareFlush; round++)
        {
            foreach (var flush in new[] { true, false })
            {
                await StartWorkersAsync(workerCount, new Dictionary<string, string?> { ["Webhooks__Delivery__FlushRecords"] = flush ? "true" : "false" });
                rates[flush].Add((await Scenarios.EndToEndAsync(run, 50, deliveries)).DeliveriesPerSecond);
            }
        }
        results.Add(("end to end, 50 endpoints: records flushed / not (each run)",
            $"{Scenarios.Join(rates[true].Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} / " +
            $"{Scenarios.Join(rates[false].Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} /s (ratio {rates[false].Average() / rates[true].Average():0.00})"));
        await StartWorkersAsync(workerCount);
    }

    // The worker-count curve: end to end on 50 endpoints with 1, 2, 4… worker processes.
    if (workersCurve > 0)
    {
        var curve = new List<string>();
        for (var count = 1; count <= workersCurve; count *= 2)
        {
            await StartWorkersAsync(count);
            var (point, _) = await MeteredAsync($"deliveries with {count} worker(s)", deliveries, () => Scenarios.EndToEndAsync(run, 50, deliveries));
            curve.Add($"{count}: {point.DeliveriesPerSecond:N0}");
        }
        results.Add(("end to end, 50 endpoints, by worker processes", Scenarios.Join(curve) + " /s"));
    }
}

// 5. Claim cost with 10 k and 1 M deliveries due: the workers stop, the claim runs alone.
foreach (var worker in workers)
{
    await worker.StopAsync(TimeSpan.FromSeconds(20));
}
if (Runs("claim"))
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

// 6. Shaping a request in process: envelope, chat adapters, transformations.
if (only.Count == 0)
{
    results.AddRange(TransformBench.Run());
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

static Arguments ParseArgs(string[] args)
{
    var parsed = new Dictionary<string, string>();
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        parsed[args[i].TrimStart('-')] = args[i + 1];
    }
    return new Arguments(parsed);
}

/// <summary>The command line's <c>--name value</c> pairs.</summary>
internal sealed record Arguments(Dictionary<string, string> Values)
{
    public int GetValueOrDefault(string name, int fallback) => Values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public string GetValueOrDefault(string name, string fallback) => Values.GetValueOrDefault(name, fallback);
}

/// <summary>Samples the workers' resident memory every 100 ms.</summary>
internal sealed class MemorySampler
{
    private int[] _pids = [];
    private long _peak;

    public void Watch(int[] pids) => _pids = pids;

    public MemorySampler()
    {
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
    private long Current() => Volatile.Read(ref _pids).Select(pid =>
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
