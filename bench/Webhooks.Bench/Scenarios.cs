using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;
using Webhooks.Client;

namespace Webhooks.Bench;

/// <summary>What every scenario needs: the API (typed and raw), the receiver, the database, and the table the figures go to.</summary>
internal sealed record BenchRun(IWebhooksApi Client, HttpClient Http, BenchReceiver Receiver, string Secret, string Database, List<(string Name, string Value)> Results)
{
    public void Add(string name, string value) => Results.Add((name, value));
}

/// <summary>The measured scenarios beyond the raw sender: end to end, publishing, latency, the soak.</summary>
internal static class Scenarios
{
    private static readonly string Filler = string.Concat(Enumerable.Repeat("lorem ipsum dolor sit amet ", 40));

    /// <summary>A distinct JSON payload of about 1 KiB.</summary>
    public static JsonElement Payload(int n) =>
        JsonSerializer.SerializeToElement(new { orderId = n, total = 42.5, currency = "EUR", note = Filler[..(900 - (n % 7))] });

    /// <summary>What an end-to-end run measured.</summary>
    public sealed record EndToEnd(double DeliveriesPerSecond, double PublishSeconds, double MessagesPerSecond);

    /// <summary>
    /// <paramref name="deliveries"/> deliveries to <paramref name="endpointCount"/> endpoints, publishing included: batches
    /// of up to 500 messages, 2 at a time, while the workers drain; timed until every attempt is recorded. Each message goes
    /// to one endpoint (its channel), so there are as many messages as deliveries, or (<paramref name="fanOut"/>) to all.
    /// </summary>
    /// <param name="orderingKeys">Set: messages carry this many ordering keys in turn (which only <paramref name="fifo"/> endpoints heed).</param>
    public static async Task<EndToEnd> EndToEndAsync(BenchRun run, int endpointCount, int deliveries, int? maxInFlight = null, bool fanOut = false,
        int? orderingKeys = null, bool fifo = false)
    {
        var app = await run.Client.CreateApplicationAsync(new ApplicationIn($"bench-{endpointCount}-{Guid.NewGuid():N}"[..24]));
        for (var e = 0; e < endpointCount; e++)
        {
            await run.Client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(run.Receiver.Url, $"webhooks/e{e}").ToString(), Secret: run.Secret,
                RetrySchedule: [0, 1, 5], MaxInFlight: maxInFlight, Channels: fanOut ? null : [$"c{e}"],
                Ordering: fifo ? OrderingModes.Fifo : null));
        }
        var messages = fanOut ? deliveries / endpointCount : deliveries;
        var total = fanOut ? messages * endpointCount : messages;
        var inputs = Enumerable.Range(0, messages).Select(n => new MessageIn("bench", Payload(n), fanOut ? null : [$"c{n % endpointCount}"],
            OrderingKey: orderingKeys is { } keys ? $"customer-{n % keys}" : null)).ToList();
        run.Receiver.Arrivals.Clear();
        var started = Stopwatch.GetTimestamp();
        var perBatch = fanOut ? Math.Max(1, Math.Min(500, 5000 / endpointCount)) : 500;
        await Parallel.ForEachAsync(inputs.Chunk(perBatch), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
        {
            using var response = await run.Http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", new MessageBatchIn(chunk), ct);
            response.EnsureSuccessStatusCode();
        });
        var published = Stopwatch.GetElapsedTime(started);
        while (run.Receiver.Arrivals.FirstSeen.Count < total)
        {
            await Task.Delay(20);
        }
        var received = Stopwatch.GetElapsedTime(started);
        await using (var connection = new NpgsqlConnection(run.Database))
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
        var rate = total / recorded.TotalSeconds;
        Console.WriteLine($"e2e {endpointCount} endpoint(s){(maxInFlight is { } cap ? $", maxInFlight {cap}" : "")}" +
            $"{(orderingKeys is { } k ? $", {k} ordering keys, {(fifo ? "fifo" : "unordered")}" : "")}: {total} deliveries; " +
            $"published {messages} messages in {published.TotalSeconds:0.00} s ({messages / published.TotalSeconds:N0}/s), " +
            $"all received at {received.TotalSeconds:0.00} s, all recorded at {recorded.TotalSeconds:0.00} s = {rate:N0}/s");
        return new EndToEnd(rate, published.TotalSeconds, messages / published.TotalSeconds);
    }

    /// <summary>Single <c>POST …/messages</c> calls from <paramref name="clients"/> concurrent clients, to one endpoint, while the workers drain.</summary>
    public static async Task SinglePublishAsync(BenchRun run, int clients, int messages)
    {
        var app = await run.Client.CreateApplicationAsync(new ApplicationIn("bench-single"));
        await run.Client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(run.Receiver.Url, "webhooks/single").ToString(), Secret: run.Secret));
        async Task PublishAsync(int count)
        {
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) < count)
                {
                    using var response = await run.Http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages", new MessageIn("bench", Payload(next)));
                    response.EnsureSuccessStatusCode();
                }
            })));
        }
        await PublishAsync(500); // warm-up
        var started = Stopwatch.GetTimestamp();
        await PublishAsync(messages);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var rate = messages / elapsed.TotalSeconds;
        // Drained before the next scenario starts, so its figures are its own.
        while (run.Receiver.Arrivals.FirstSeen.Keys.Count(k => k.EndsWith(" single", StringComparison.Ordinal)) < messages + 500)
        {
            await Task.Delay(50);
        }
        run.Add($"publish, single calls from {clients} clients (workers draining)", $"{rate:N0} msg/s");
        Console.WriteLine($"single publish: {messages} from {clients} clients in {elapsed.TotalSeconds:0.00} s = {rate:N0}/s");
    }

    /// <summary>What publishing alone reached (the workers stopped): batches and single calls, and a wait for the deliveries once workers run.</summary>
    public sealed record PublishAlone(double BatchMessagesPerSecond, double SingleMessagesPerSecond, Func<Task> DrainedAsync);

    /// <summary>
    /// Publishing with no worker running (the caller stopped them): <paramref name="messages"/> distinct 1 KiB messages to 50
    /// endpoints in batches of 500, 2 at a time, then 5,000 single calls from <paramref name="clients"/> clients (after 500 to
    /// warm up). Everything is delivered once the caller starts the workers again and awaits <see cref="PublishAlone.DrainedAsync"/>.
    /// </summary>
    public static async Task<PublishAlone> PublishAloneAsync(BenchRun run, int messages, int clients)
    {
        const int endpointCount = 50, singles = 5000, warmUp = 500;
        var app = await run.Client.CreateApplicationAsync(new ApplicationIn($"bench-alone-{Guid.NewGuid():N}"[..24]));
        for (var e = 0; e < endpointCount; e++)
        {
            await run.Client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(run.Receiver.Url, $"webhooks/e{e}").ToString(), Secret: run.Secret,
                RetrySchedule: [0, 1, 5], Channels: [$"c{e}"]));
        }
        run.Receiver.Arrivals.Clear();
        var inputs = Enumerable.Range(0, messages).Select(n => new MessageIn("bench", Payload(n), [$"c{n % endpointCount}"])).ToList();
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(inputs.Chunk(500), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
        {
            using var response = await run.Http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", new MessageBatchIn(chunk), ct);
            response.EnsureSuccessStatusCode();
        });
        var batchRate = messages / Stopwatch.GetElapsedTime(started).TotalSeconds;
        async Task SinglesAsync(int from, int count)
        {
            var next = from - 1;
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                int n;
                while ((n = Interlocked.Increment(ref next)) < from + count)
                {
                    using var response = await run.Http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages",
                        new MessageIn("bench", Payload(n), [$"c{n % endpointCount}"]));
                    response.EnsureSuccessStatusCode();
                }
            })));
        }
        await SinglesAsync(messages, warmUp);
        started = Stopwatch.GetTimestamp();
        await SinglesAsync(messages + warmUp, singles);
        var singleRate = singles / Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"publishing alone (no worker running): {messages} in batches at {batchRate:N0} msg/s; {singles} single calls from {clients} clients at {singleRate:N0} msg/s");
        var total = messages + warmUp + singles;
        return new PublishAlone(batchRate, singleRate, async () =>
        {
            while (run.Receiver.Arrivals.FirstSeen.Count < total)
            {
                await Task.Delay(50);
            }
        });
    }

    /// <summary>Publish → receipt latencies (ms, sorted) and publish-call latencies of single publishes paced at <paramref name="rate"/>.</summary>
    public static async Task<(double[] Receipt, double[] Publish, List<(long SentAt, double Ms)> Timeline, int Refused)> PacedAsync(
        BenchRun run, string appId, int rate, int seconds)
    {
        var refused = 0;
        run.Receiver.Arrivals.Clear();
        var sentAt = new ConcurrentDictionary<string, long>();
        var publishMs = new ConcurrentBag<double>();
        var count = rate * seconds;
        var start = Stopwatch.GetTimestamp();
        var inFlight = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)((double)i / rate * Stopwatch.Frequency);
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
                try
                {
                    var message = await run.Client.PublishAsync(appId, new MessageIn("bench", Payload(n)));
                    sentAt[message.Id + " lat"] = t0;
                }
                catch (Exception ex) when (ex is Refit.ApiException or Refit.ApiRequestException or HttpRequestException)
                {
                    // An overloaded API answers 503 past its deadline (or its connection is reset): counted, not in the latencies.
                    Interlocked.Increment(ref refused);
                }
                publishMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }));
        }
        await Task.WhenAll(inFlight);
        await WaitForArrivalsAsync(run, sentAt.Keys);
        var timeline = sentAt.Select(kv => (kv.Value, Stopwatch.GetElapsedTime(kv.Value, run.Receiver.Arrivals.FirstSeen[kv.Key]).TotalMilliseconds))
            .OrderBy(t => t.Value).ToList();
        return (timeline.Select(t => t.Item2).Order().DefaultIfEmpty(double.NaN).ToArray(), publishMs.Order().ToArray(), timeline, refused);
    }

    /// <summary>The latency at a paced load of single publishes: a 3-s warm-up, then <paramref name="seconds"/> measured.</summary>
    public static async Task LatencyAsync(BenchRun run, int rate, int seconds, int? maxInFlight = null)
    {
        var app = await run.Client.CreateApplicationAsync(new ApplicationIn($"bench-latency-{rate}"));
        await run.Client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(run.Receiver.Url, "webhooks/lat").ToString(), Secret: run.Secret, MaxInFlight: maxInFlight));
        var label = maxInFlight is { } cap ? $" (maxInFlight {cap})" : "";
        await PacedAsync(run, app.Id, rate, 3);
        var (receipt, publish, _, refused) = await PacedAsync(run, app.Id, rate, seconds);
        run.Add($"publish → receipt at {rate} msg/s{label}, p50 / p99 / max", $"{Percentile(receipt, 0.5):0.0} / {Percentile(receipt, 0.99):0.0} / {receipt[^1]:0} ms" +
            (refused > 0 ? $" ({refused} publishes refused: 503 or reset)" : ""));
        run.Add($"  the publish call alone, p50 / p99", $"{Percentile(publish, 0.5):0.0} / {Percentile(publish, 0.99):0.0} ms");
        Console.WriteLine($"latency at {rate}/s{label} for {seconds} s: p50 {Percentile(receipt, 0.5):0.0} ms, p90 {Percentile(receipt, 0.9):0.0} ms, " +
            $"p99 {Percentile(receipt, 0.99):0.0} ms, max {receipt[^1]:0.0} ms; publish call p50 {Percentile(publish, 0.5):0.0} ms, p99 {Percentile(publish, 0.99):0.0} ms");
    }

    /// <summary>A long paced run (<c>--soak seconds</c>): publish → receipt p50 / p99 / max in 15-s windows, and over the whole run.</summary>
    public static async Task SoakAsync(BenchRun run, int rate, int seconds)
    {
        var app = await run.Client.CreateApplicationAsync(new ApplicationIn($"bench-soak-{rate}"));
        // The paced runs match arrivals by "<id> lat": the endpoint path must be /webhooks/lat.
        await run.Client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(run.Receiver.Url, "webhooks/lat").ToString(), Secret: run.Secret));
        var started = Stopwatch.GetTimestamp();
        var (receipt, publish, timeline, refused) = await PacedAsync(run, app.Id, rate, seconds);
        Console.WriteLine($"soak at {rate}/s for {seconds} s, 15-s windows (p50 / p99 / max ms):");
        var worstP99 = 0.0;
        // Windows from the first message sent (the application and endpoint were created before it).
        var origin = timeline.Count > 0 ? timeline.Min(t => t.SentAt) : started;
        foreach (var window in timeline.GroupBy(t => (int)(Stopwatch.GetElapsedTime(origin, t.SentAt).TotalSeconds / 15)).OrderBy(g => g.Key))
        {
            var sorted = window.Select(t => t.Ms).Order().ToArray();
            worstP99 = Math.Max(worstP99, Percentile(sorted, 0.99));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {window.Key * 15,4}–{(window.Key + 1) * 15,4} s: {Percentile(sorted, 0.5),7:0.0} / {Percentile(sorted, 0.99),7:0.0} / {sorted[^1],7:0.0}"));
        }
        run.Add($"soak {seconds} s at {rate} msg/s: publish → receipt p50 / p99 / max", $"{Percentile(receipt, 0.5):0.0} / {Percentile(receipt, 0.99):0.0} / {receipt[^1]:0} ms");
        run.Add("  worst 15-s window's p99; publish call p99; refused", $"{worstP99:0.0} ms; {Percentile(publish, 0.99):0.0} ms; {refused}");
    }

    private static async Task WaitForArrivalsAsync(BenchRun run, ICollection<string> keys)
    {
        var waiting = keys.ToList();
        while (waiting.Count > 0)
        {
            waiting.RemoveAll(run.Receiver.Arrivals.FirstSeen.ContainsKey);
            await Task.Delay(20);
        }
    }

    public static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1))];

    /// <summary>A table cell's list of figures: "a / b / c".</summary>
    public static string Join(IEnumerable<string> parts) => new StringBuilder().AppendJoin(" / ", parts).ToString();
}
