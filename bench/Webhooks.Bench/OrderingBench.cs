using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Webhooks.Client;

namespace Webhooks.Bench;

/// <summary>
/// The cost of ordering: the same number of deliveries end to end (publish → signed POST → attempt recorded) to one
/// unordered endpoint, then to one <c>fifo</c> endpoint with 100 ordering keys (one delivery in flight per key).
/// </summary>
public static class OrderingBench
{
    private const int Keys = 100;

    public static async Task<List<(string Name, string Value)>> RunAsync(
        IWebhooksApi client, HttpClient http, BenchReceiver receiver, string secret, string database, int deliveries, double rawRate)
    {
        var results = new List<(string, string)>();
        foreach (var ordering in new[] { OrderingModes.None, OrderingModes.Fifo })
        {
            var app = await client.CreateApplicationAsync(new ApplicationIn($"bench-ordering-{ordering}"));
            await client.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(receiver.Url, $"webhooks/ordering-{ordering}").ToString(), Secret: secret,
                RetrySchedule: [0, 1, 5], Ordering: ordering));
            var started = Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(Enumerable.Range(0, deliveries).Chunk(500), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
            {
                var input = new MessageBatchIn([.. chunk.Select(n => new MessageIn("bench", JsonSerializer.SerializeToElement(new { orderId = n }),
                    OrderingKey: $"customer-{n % Keys}"))]);
                using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", input, ct);
                response.EnsureSuccessStatusCode();
            });
            var published = Stopwatch.GetElapsedTime(started);
            await using (var connection = new NpgsqlConnection(database))
            {
                await connection.OpenAsync();
                while (true)
                {
                    await using var count = new NpgsqlCommand("SELECT count(*) FROM deliveries WHERE application_id = @app AND status = 'succeeded'", connection);
                    count.Parameters.AddWithValue("app", app.Id);
                    if ((long)(await count.ExecuteScalarAsync())! >= deliveries)
                    {
                        break;
                    }
                    await Task.Delay(20);
                }
            }
            var recorded = Stopwatch.GetElapsedTime(started);
            var rate = deliveries / recorded.TotalSeconds;
            var name = ordering == OrderingModes.Fifo ? $"end to end, 1 fifo endpoint, {Keys} keys" : $"end to end, 1 unordered endpoint ({Keys} keys ignored)";
            results.Add((name, $"{rate:N0} /s ({rate / rawRate:P0} of raw); published in {published.TotalSeconds:0.00} s"));
            Console.WriteLine($"ordering {ordering}: {deliveries} deliveries; published in {published.TotalSeconds:0.00} s, all recorded at {recorded.TotalSeconds:0.00} s = {rate:N0}/s");
        }
        return results;
    }
}
