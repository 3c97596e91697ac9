using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Webhooks.Testing;
using Webhooks.Testing.Processes;

namespace Webhooks.Bench;

/// <summary>
/// The same workload as the platform's 50-endpoint scenario, through the queue a team would hand-roll instead: BullMQ on a
/// Redis of its own with AOF <c>everysec</c>, a Node worker at concurrency 64 signing with the npm
/// <c>standardwebhooks</c> package, sending to the same SDK receiver (<c>bench/bullmq/peer.mjs</c>). Timed from the first
/// job added until the receiver has verified every delivery.
/// </summary>
internal sealed class BullMqPeer : IAsyncDisposable
{
    private static readonly NodeFolder Folder = new("bench", "bullmq");
    private readonly LocalRedis _redis;
    private readonly ChildProcess _worker;
    private int _round;

    private BullMqPeer(LocalRedis redis, ChildProcess worker)
    {
        _redis = redis;
        _worker = worker;
    }

    public static async Task<BullMqPeer> StartAsync(string work, string secret, Action<string> log)
    {
        await Folder.EnsureInstalledAsync();
        var redis = await LocalRedis.StartAsync(Path.Combine(work, "redis-bullmq"), LocalPostgres.FreePort(), log, appendOnly: true);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var worker = ChildProcess.Start("bullmq-worker", "node", ["peer.mjs", "worker"], line =>
        {
            log(line);
            if (line.EndsWith("ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }, new Dictionary<string, string?> { ["REDIS_PORT"] = redis.Port.ToString(CultureInfo.InvariantCulture), ["SECRET"] = secret, ["CONCURRENCY"] = "64" },
            Folder.Folder);
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return new BullMqPeer(redis, worker);
    }

    /// <summary>Deliveries a second: <paramref name="deliveries"/> jobs to <paramref name="endpoints"/> endpoints, until all are received.</summary>
    public async Task<double> RunAsync(BenchReceiver receiver, int deliveries, int endpoints)
    {
        var round = ++_round;
        receiver.Arrivals.Clear();
        var started = Stopwatch.GetTimestamp();
        var produced = await Folder.RunAsync("peer.mjs", ["produce"], environment: new Dictionary<string, string>
        {
            ["REDIS_PORT"] = _redis.Port.ToString(CultureInfo.InvariantCulture),
            ["RECEIVER"] = receiver.Url.ToString(),
            ["COUNT"] = deliveries.ToString(CultureInfo.InvariantCulture),
            ["ENDPOINTS"] = endpoints.ToString(CultureInfo.InvariantCulture),
            ["ROUND"] = round.ToString(CultureInfo.InvariantCulture),
        });
        if (produced.ExitCode != 0)
        {
            throw new InvalidOperationException($"The BullMQ producer failed:{Environment.NewLine}{produced.Output}");
        }
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 300;
        while (receiver.Arrivals.FirstSeen.Count < deliveries)
        {
            if (Stopwatch.GetTimestamp() > deadline || _worker.HasExited)
            {
                throw new InvalidOperationException($"The BullMQ worker delivered {receiver.Arrivals.FirstSeen.Count} of {deliveries}.");
            }
            await Task.Delay(20);
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        var publishSeconds = JsonDocument.Parse(produced.StandardOutput).RootElement.GetProperty("publishSeconds").GetDouble();
        var rate = deliveries / elapsed.TotalSeconds;
        Console.WriteLine($"bullmq peer, {endpoints} endpoints: {deliveries} deliveries; added in {publishSeconds:0.00} s, " +
            $"all received at {elapsed.TotalSeconds:0.00} s = {rate:N0}/s");
        return rate;
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.StopAsync(TimeSpan.FromSeconds(10));
        await _redis.DisposeAsync();
    }
}
