using System.Diagnostics;
using System.Text;
using Webhooks.Core.Delivery;

namespace Webhooks.Bench;

/// <summary>
/// What shaping a request costs the worker, in process: the plain envelope, the Slack and Discord adapters, and a typical
/// transformation (a fresh sandboxed engine per run, the script parsed once and cached), per operation.
/// </summary>
public static class TransformBench
{
    private const string Typical = """
        function handler(webhook) {
          var data = webhook.payload.data;
          webhook.payload = {
            text: webhook.eventType + ': order ' + data.id + ' for ' + data.customer.name,
            total: data.lines.reduce(function (sum, line) { return sum + line.price * line.quantity; }, 0),
            at: new Date().toISOString(),
          };
          webhook.headers['X-Source'] = 'webhooks';
          return webhook;
        }
        """;

    private const string Payload = """
        {"id":"ord_42","customer":{"name":"Ada Lovelace","email":"ada@example.com"},"status":"paid",
         "lines":[{"sku":"a","price":12.5,"quantity":2},{"sku":"b","price":3,"quantity":10},{"sku":"c","price":99.99,"quantity":1}]}
        """;

    public static IEnumerable<(string Name, string Value)> Run(int runs = 10_000)
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new Dictionary<string, string>();
        const string url = "https://receiver.example/hook";
        yield return Measure("shape: standard envelope", runs, () => Transformation.Shape(null, null, "order.paid", now, Payload, url, headers));
        yield return Measure("shape: slack adapter", runs, () => Transformation.Shape(ChatFormats.Slack, null, "order.paid", now, Payload, url, headers));
        yield return Measure("shape: discord adapter", runs, () => Transformation.Shape(ChatFormats.Discord, null, "order.paid", now, Payload, url, headers));
        yield return Measure("shape: typical transformation", runs, () => Transformation.Shape(null, Typical, "order.paid", now, Payload, url, headers));
        yield return Measure("shape: slack + transformation", runs,
            () => Transformation.Shape(ChatFormats.Slack, "function handler(w) { w.payload.text = '[prod] ' + w.payload.text; return w; }",
                "order.paid", now, Payload, url, headers));
    }

    private static (string, string) Measure(string name, int runs, Func<TransformationOutput> shape)
    {
        for (var i = 0; i < Math.Min(runs, 500); i++)
        {
            shape();
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        var bytes = 0L;
        for (var i = 0; i < runs; i++)
        {
            bytes += shape().Body.Length;
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        var perOp = elapsed.TotalMicroseconds / runs;
        var kib = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 1024.0 / runs;
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{name}: {perOp:0.0} µs/op, {kib:0.0} KiB allocated/op, {bytes / runs} B body ({runs:N0} runs)"));
        return (name, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{perOp:0.0} µs/op, {kib:0.0} KiB/op"));
    }
}
