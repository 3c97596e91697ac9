using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Webhooks.Testing;
using Xunit.Abstractions;

namespace Webhooks.Worker.Tests;

/// <summary>
/// The standing fault suite: the real stack while messages are published, with Postgres connections cut, Postgres
/// paused, Redis paused (a worker killed and misbehaving receivers are in ResilienceTests and PromiseTests). Each
/// asserts: every publish answered 2xx is delivered, every request the receiver saw is on record, publishes during an
/// outage are answered promptly (503 problem, never a hang), and the workers say so in a line, not a stack trace each poll.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class FaultTests(StackFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Postgres_connections_cut_and_postgres_paused_lose_nothing_and_publishes_answer_promptly()
    {
        if (Environment.GetEnvironmentVariable("WEBHOOKS_TEST_POSTGRES") is { Length: > 0 })
        {
            // xunit 2 cannot skip at run time. Pausing a server this suite does not own (shared, maybe remote) is wrong.
            const string skipped = "NOT RUN: WEBHOOKS_TEST_POSTGRES names an external Postgres, which this test must not cut or pause (SIGSTOP through /proc).";
            output.WriteLine(skipped);
            TestStack.Log("fault: " + skipped);
            return;
        }
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__LeaseMarginSeconds"] = "3",
            ["Webhooks__Delivery__LeaseSweepSeconds"] = "1",
        }, workers: 2, apiSettings: new Dictionary<string, string?> { ["Webhooks__Api__RequestTimeoutSeconds"] = Deadline.TotalSeconds.ToString() });
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { TimeoutSeconds = 5 });
        var publisher = new Publisher(isolated.Api.Http(), s.App.Id);
        var logStart = new FileInfo(TestStack.LogPath).Length;

        // Publishing goes on until after the pause, however fast the machine: some publishes always meet it.
        var publishing = publisher.RunAsync(count: 100_000, concurrency: 4);
        await Eventually.HoldsAsync(() => publisher.Accepted.Count >= 20, TimeSpan.FromSeconds(30), "publishing is under way");
        for (var i = 0; i < 3; i++)
        {
            await isolated.QueryAsync<long>(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
            await Task.Delay(300);
        }
        await Eventually.HoldsAsync(() => publisher.Accepted.Count >= 50, TimeSpan.FromSeconds(60), "publishing goes on after the cut");
        var postgres = await PostgresProcessesAsync(isolated);
        var accepted = publisher.Accepted.Count;
        Signal(postgres, "STOP");
        try
        {
            await Task.Delay(Deadline * 2);
        }
        finally
        {
            Signal(postgres, "CONT");
        }
        await Eventually.HoldsAsync(() => publisher.Accepted.Count >= accepted + 20, TimeSpan.FromSeconds(60), "publishing goes on after the pause");
        publisher.Stopping = true;
        await publishing;

        // Never a hang: every answer came within the deadline plus Npgsql's cancellation grace; outages answered 503.
        Assert.All(publisher.Durations, d => Assert.True(d < Deadline + TimeSpan.FromSeconds(6), $"a publish took {d.TotalSeconds:0.0} s"));
        Assert.True(publisher.Unavailable > 0, "some publishes met the paused database and were answered 503");
        Assert.Equal(0, publisher.Unexpected);
        await AssertNothingLostAsync(isolated, s, publisher, leasedAtFaults: null);
        AssertOutagesToldInLines(logStart, isolated);
    }

    [Fact]
    public async Task Redis_paused_slows_nothing_and_loses_nothing()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 1, ownRedis: true);
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RateLimitPerSecond = 200 });
        var publisher = new Publisher(isolated.Api.Http(), s.App.Id);
        var redis = await RedisProcessAsync(isolated);

        await publisher.RunAsync(count: 10, concurrency: 2);
        Signal([redis], "STOP");
        try
        {
            await publisher.RunAsync(count: 40, concurrency: 4);
            // Delivered while Redis is paused: polling and the per-worker rate limit carry on.
            await s.WaitForHandledAsync(50, TimeSpan.FromSeconds(60));
        }
        finally
        {
            Signal([redis], "CONT");
        }
        await publisher.RunAsync(count: 10, concurrency: 2);

        Assert.All(publisher.Durations, d => Assert.True(d < TimeSpan.FromSeconds(3), $"a publish took {d.TotalSeconds:0.0} s while Redis was paused"));
        Assert.Equal(0, publisher.Unavailable + publisher.Unexpected);
        // A paused Redis holds up no record (leases outlast its timeouts by far): nothing may be sent twice.
        await AssertNothingLostAsync(isolated, s, publisher, leasedAtFaults: new HashSet<string>());
    }

    [Fact]
    public async Task Redis_paused_is_told_by_the_worker_in_one_line_when_it_goes_and_one_when_it_is_back()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 1, ownRedis: true);
        // Rate-limited, so every claim asks Redis for a token: the worker meets the outage on its delivery path.
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RateLimitPerSecond = 200 });
        var redis = await RedisProcessAsync(isolated);
        var worker = isolated.Workers[0];
        var logStart = new FileInfo(TestStack.LogPath).Length;
        var published = 0;
        async Task<bool> ToldAsync(string what)
        {
            await s.PublishAsync(Interlocked.Increment(ref published));
            await Task.Delay(200);
            return WorkerLines(logStart, worker).Any(l => l.Contains(what, StringComparison.Ordinal));
        }

        Signal([redis], "STOP");
        try
        {
            await Eventually.HoldsAsync(() => ToldAsync("Redis is unreachable"), TimeSpan.FromSeconds(60), "the worker says Redis is unreachable");
            // Held a while longer, with deliveries going on, so the worker fails more calls within the same outage:
            // those must not each add a line.
            var until = DateTime.UtcNow.AddSeconds(12);
            while (DateTime.UtcNow < until)
            {
                await ToldAsync("");
            }
        }
        finally
        {
            Signal([redis], "CONT");
        }
        await Eventually.HoldsAsync(() => ToldAsync("Redis is back"), TimeSpan.FromSeconds(60), "the worker says Redis is back");
        await s.WaitForHandledAsync(published, TimeSpan.FromSeconds(60));

        var mine = WorkerLines(logStart, worker);
        Assert.DoesNotContain(mine, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("Exception:", StringComparison.Ordinal));
        // One pause, one outage: one line when it went, one when it came back, in that order.
        var told = mine.Where(l => l.Contains("Redis is unreachable", StringComparison.Ordinal) || l.Contains("Redis is back", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, told.Count);
        Assert.Contains("Redis is unreachable", told[0], StringComparison.Ordinal);
        Assert.Contains("Redis is back", told[1], StringComparison.Ordinal);
        var failed = int.Parse(System.Text.RegularExpressions.Regex.Match(told[1], @"\((\d+) calls failed meanwhile\)").Groups[1].Value);
        Assert.True(failed >= 2, $"the outage spanned several failed calls (told in one line): {told[1]}");
    }

    private static async Task AssertNothingLostAsync(IsolatedStack isolated, Scenario s, Publisher publisher, IReadOnlySet<string>? leasedAtFaults)
    {
        var accepted = publisher.Accepted.Values.ToHashSet();
        await Eventually.HoldsAsync(() => accepted.IsSubsetOf(s.Receiver.Handled.Select(h => h.Id)), TimeSpan.FromSeconds(120),
            "every message answered 2xx is handled by the receiver");
        await Eventually.HoldsAsync(async () =>
                await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'") == 0,
            TimeSpan.FromSeconds(60), "every delivery is recorded as succeeded");
        // Every request the receiver saw is an attempt on record, id by id, and each duplicate follows an expired lease.
        var duplicated = await Ledger.AssertEveryRequestRecordedAsync(isolated, s);
        // Duplicates only for what a fault caught: a message sent twice was leased when one struck. For a database
        // outage that set is not one snapshot (a worker keeps results it could not record and retries with backoff, so
        // a lease taken just after a cut can expire too); there the ledger's per-id tie to an expired lease is the check.
        if (leasedAtFaults is not null)
        {
            Assert.True(duplicated.Ids.IsSubsetOf(leasedAtFaults),
                $"sent twice though not leased at any fault: {string.Join(", ", duplicated.Ids.Except(leasedAtFaults))} ({leasedAtFaults.Count} were leased)");
        }
        // Idempotent retries of 503s stored each message once.
        Assert.Equal(publisher.Accepted.Count, await isolated.QueryAsync<long>("SELECT count(*) FROM messages"));
    }

    /// <summary>
    /// Each worker told the Postgres outages in lines (DependencyOutage): at least one "unreachable" warning and one
    /// "back" line, alternating and ending "back"; one warning per outage, not one per failed call (three cuts and a
    /// pause: at most four); and never a stack trace. (The cuts are what the workers notice: a pause of a few seconds
    /// only holds their statements up.)
    /// </summary>
    private static void AssertOutagesToldInLines(long logStart, IsolatedStack isolated)
    {
        foreach (var worker in isolated.Workers)
        {
            var mine = WorkerLines(logStart, worker);
            Assert.DoesNotContain(mine, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("Exception:", StringComparison.Ordinal));
            var told = mine.Where(l => l.Contains("Postgres is unreachable", StringComparison.Ordinal) || l.Contains("Postgres is back", StringComparison.Ordinal)).ToList();
            // Seen here, intermittently (2 of the last 4 runs on main as of 2026-12-04): after the pause a worker's late attempt record (locks endpoints, then
            // deliveries) and another worker's lease sweep of the same deliveries (locks deliveries, then endpoints)
            // deadlock, and the aborted one says "Postgres is unreachable: 40P01". Not an outage: a lock-order defect.
            var deadlocks = told.Where(l => l.Contains("40P01", StringComparison.Ordinal)).ToList();
            Assert.True(deadlocks.Count == 0, "a deadlock between the lease sweep and a late attempt record was told as an outage: " + string.Join(" | ", deadlocks));
            Assert.InRange(told.Count(l => l.Contains("Postgres is unreachable", StringComparison.Ordinal)), 1, 4);
            // Each outage in two lines: gone, back, gone, back… never a second "unreachable" before "back", ending "back".
            for (var i = 0; i < told.Count; i++)
            {
                Assert.Contains(i % 2 == 0 ? "Postgres is unreachable" : "Postgres is back", told[i], StringComparison.Ordinal);
            }
            Assert.True(told.Count % 2 == 0, $"the last outage line is 'back': {told[^1]}");
        }
    }

    /// <summary>What <paramref name="worker"/> logged since <paramref name="logStart"/> (the suite's log is shared by every service).</summary>
    private static string[] WorkerLines(long logStart, ServiceInstance worker)
    {
        using var log = new FileStream(TestStack.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        log.Seek(logStart, SeekOrigin.Begin);
        return new StreamReader(log).ReadToEnd().Split('\n').Where(l => l.Contains($"[{worker.Process.Name}]", StringComparison.Ordinal)).ToArray();
    }

    private static async Task<int[]> PostgresProcessesAsync(IsolatedStack isolated)
    {
        var backend = await isolated.QueryAsync<int>("SELECT pg_backend_pid()");
        var postmaster = int.Parse(File.ReadAllLines($"/proc/{backend}/status").First(l => l.StartsWith("PPid:")).Split(':')[1].Trim());
        var children = File.ReadAllText($"/proc/{postmaster}/task/{postmaster}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
        return [postmaster, .. children];
    }

    private static async Task<int> RedisProcessAsync(IsolatedStack isolated)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, isolated.RedisPort);
        var stream = client.GetStream();
        await stream.WriteAsync("INFO server\r\n"u8.ToArray());
        var buffer = new byte[16384];
        var text = new StringBuilder();
        while (!text.ToString().Contains("process_id:", StringComparison.Ordinal) || !text.ToString().Contains("\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            if (read == 0 || text.ToString().Split("process_id:")[^1].Contains("\r\n", StringComparison.Ordinal))
            {
                break;
            }
        }
        var line = text.ToString().Split("\r\n").First(l => l.StartsWith("process_id:", StringComparison.Ordinal));
        return int.Parse(line["process_id:".Length..]);
    }

    private static void Signal(IEnumerable<int> pids, string signal)
    {
        // One kill for all, so they stop (or go on) together.
        using var kill = Process.Start("kill", [$"-{signal}", .. pids.Select(pid => pid.ToString())]);
        kill.WaitForExit();
        TestStack.Log($"fault: SIG{signal} to {string.Join(' ', pids)}");
    }

    /// <summary>Publishes like a careful client: an idempotency key per message, a 503 retried after a moment.</summary>
    private sealed class Publisher(HttpClient http, string appId)
    {
        private int _next;
        public ConcurrentDictionary<string, string> Accepted { get; } = new();
        public ConcurrentBag<TimeSpan> Durations { get; } = [];
        public int Unavailable;
        public int Unexpected;

        /// <summary>Set to start no more publishes (those under way go on until accepted).</summary>
        public volatile bool Stopping;

        public async Task RunAsync(int count, int concurrency)
        {
            var keys = Enumerable.Range(0, count).Select(_ => $"fault-{Interlocked.Increment(ref _next)}-{Guid.NewGuid():N}").ToList();
            await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (key, ct) =>
            {
                if (Stopping)
                {
                    return;
                }
                while (true)
                {
                    var body = $"{{\"eventType\":\"order.created\",\"payload\":{{\"key\":\"{key}\"}},\"idempotencyKey\":\"{key}\"}}";
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await http.PostAsync($"api/v1/apps/{appId}/messages", new StringContent(body, Encoding.UTF8, "application/json"), ct);
                        Durations.Add(Stopwatch.GetElapsedTime(started));
                        if (response.IsSuccessStatusCode)
                        {
                            var id = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("id").GetString()!;
                            Accepted[key] = id;
                            return;
                        }
                        if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                        {
                            Interlocked.Increment(ref Unavailable);
                        }
                        else
                        {
                            TestStack.Log($"fault: publish answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
                            Interlocked.Increment(ref Unexpected);
                        }
                    }
                    catch (HttpRequestException ex)
                    {
                        Durations.Add(Stopwatch.GetElapsedTime(started));
                        TestStack.Log($"fault: publish failed: {ex.Message}");
                        Interlocked.Increment(ref Unexpected);
                    }
                    await Task.Delay(500, ct);
                }
            });
        }
    }
}
