using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Webhooks.Client;

namespace Webhooks.Bench;

/// <summary>
/// The cost of payload filters on the publish statement: batch publishes to 50 endpoints with no filters, with a filter
/// on every endpoint that every payload passes (same deliveries stored, only the evaluation added), and with filters
/// that pass one payload in ten. The endpoints are disabled, so their deliveries are parked and no worker competes for
/// the machine: what is measured is the publish alone. Runs alternate between the variants; the median counts.
/// </summary>
internal static class FilterBench
{
    private const int Endpoints = 50;
    private const int PerBatch = 100;
    private const int Runs = 3;

    public static async Task<IReadOnlyList<(string Name, string Value)>> RunAsync(IWebhooksApi client, HttpClient http, Uri receiverUrl, int deliveries)
    {
        var messages = Math.Max(PerBatch * 5, deliveries / 20);
        var variants = new (string Name, Func<int, JsonElement?> Filter)[]
        {
            ("no filters", _ => null),
            ("every endpoint filtered, all pass", _ => Json("""{"total":{"$gte":10},"currency":{"$in":["EUR","USD"]},"customer.tier":{"$neq":"blocked"}}""")),
            ("every endpoint filtered, 1 in 10 pass", e => Json($$$"""{"bucket":{{{e % 10}}},"currency":{"$in":["EUR","USD"]}}""")),
        };
        var apps = new List<string>();
        foreach (var (name, filter) in variants)
        {
            var app = await client.CreateApplicationAsync(new ApplicationIn("bench-filter " + name));
            for (var e = 0; e < Endpoints; e++)
            {
                var endpoint = await client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(receiverUrl, $"webhooks/f{e}").ToString(), Filter: filter(e)));
                await client.DisableEndpointAsync(app.Id, endpoint.Id, new DisableEndpointIn("benchmark: parked"));
            }
            apps.Add(app.Id);
            await PublishAsync(http, app.Id, PerBatch * 2, 0); // warm-up
        }

        var rates = variants.Select(_ => new List<double>()).ToArray();
        var offset = PerBatch * 2;
        for (var run = 0; run < Runs; run++)
        {
            for (var v = 0; v < variants.Length; v++)
            {
                var elapsed = await PublishAsync(http, apps[v], messages, offset);
                rates[v].Add(messages / elapsed.TotalSeconds);
            }
            offset += messages;
        }
        var results = new List<(string, string)>();
        var baseline = Median(rates[0]);
        for (var v = 0; v < variants.Length; v++)
        {
            var rate = Median(rates[v]);
            results.Add(($"publish rate, {Endpoints} endpoints, {variants[v].Name}", $"{rate:N0} msg/s ({rate / baseline:P0} of no filters)"));
            Console.WriteLine($"filters: {variants[v].Name}: {string.Join(", ", rates[v].Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} msg/s " +
                              $"({messages} messages in batches of {PerBatch}, {Endpoints} endpoints)");
        }
        return results;
    }

    private static async Task<TimeSpan> PublishAsync(HttpClient http, string appId, int messages, int offset)
    {
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(offset, messages).Chunk(PerBatch), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
        {
            var input = new MessageBatchIn(chunk.Select(n => new MessageIn("bench", JsonSerializer.SerializeToElement(
                new { orderId = n, bucket = n % 10, total = 42.5, currency = "EUR", customer = new { tier = "gold" } }))).ToList());
            using var response = await http.PostAsJsonAsync($"/api/v1/apps/{appId}/messages/batch", input, ct);
            response.EnsureSuccessStatusCode();
        });
        return Stopwatch.GetElapsedTime(started);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
