using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using Webhooks.Client;

namespace Webhooks.Bench;

/// <summary>
/// Hostile previews against the API's own work: twenty clients, each of its own application, send CPU-heavy transformation
/// previews back to back for a while, and meanwhile one client reads <c>/health</c> and another publishes, each every 50 ms.
/// Printed: the health and publish latencies (p50/p99) with the previews and without, and what the previews were answered.
/// </summary>
public static class ScriptBench
{
    private const string Heavy = """{"transformation":"function handler(w) { let s = 0; for (let i = 0; i < 450000; i++) { s += i % 7; } return w; }","eventType":"a.b","payload":{}}""";

    public static async Task<List<(string Name, string Value)>> RunAsync(IWebhooksApi client, HttpClient http, TimeSpan length)
    {
        var app = await client.CreateApplicationAsync(new ApplicationIn("script bench publisher"));
        var idle = await MeasureAsync(http, app.Id, length, hostile: null);
        var hostileApps = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            hostileApps.Add((await client.CreateApplicationAsync(new ApplicationIn($"script bench hostile {i}"))).Id);
        }
        var busy = await MeasureAsync(http, app.Id, length, hostileApps);
        return
        [
            ("health p50 / p99, idle; with 20 clients of hostile previews", $"{idle.Health}; {busy.Health}"),
            ("publish p50 / p99, idle; with 20 clients of hostile previews", $"{idle.Publish}; {busy.Publish}"),
            ("  the previews were answered", busy.Previews),
        ];
    }

    private static async Task<(string Health, string Publish, string Previews)> MeasureAsync(HttpClient http, string appId, TimeSpan length, List<string>? hostile)
    {
        using var stop = new CancellationTokenSource(length);
        var answers = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var previews = (hostile ?? []).Select(hostileApp => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var content = new StringContent(Heavy, Encoding.UTF8, "application/json");
                using var response = await http.PostAsync($"/api/v1/apps/{hostileApp}/transformations/preview", content, CancellationToken.None);
                answers.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                if ((int)response.StatusCode == 429)
                {
                    // A well-behaved client would wait the Retry-After; a hostile one comes straight back.
                    await Task.Yield();
                }
            }
        })).ToList();
        var health = PaceAsync(() => http.GetAsync("/health"), stop.Token);
        var publish = PaceAsync(() => http.PostAsJsonAsync($"/api/v1/apps/{appId}/messages",
            new { eventType = "bench.script", payload = new { n = 1 } }), stop.Token);
        await Task.WhenAll(previews.Append(health).Append(publish));
        return (Format(await health), Format(await publish),
            string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{a.Value:N0} × {a.Key}")));
    }

    private static async Task<List<double>> PaceAsync(Func<Task<HttpResponseMessage>> call, CancellationToken stop)
    {
        var latencies = new List<double>();
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            using (var response = await call())
            {
                response.EnsureSuccessStatusCode();
            }
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            await Task.Delay(50, CancellationToken.None);
        }
        return latencies;
    }

    private static string Format(List<double> latencies)
    {
        latencies.Sort();
        double At(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        return $"{At(0.5):0.0} / {At(0.99):0.0} ms ({latencies.Count} requests)";
    }
}
