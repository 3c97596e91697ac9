namespace Webhooks.Bench;

/// <summary>
/// The cost of ordering: the same number of deliveries end to end (publish → signed POST → attempt recorded) to one
/// unordered endpoint, then to one <c>fifo</c> endpoint with 100 ordering keys (one delivery in flight per key).
/// </summary>
internal static class OrderingBench
{
    private const int Keys = 100;

    public static async Task<List<(string Name, string Value)>> RunAsync(BenchRun run, int deliveries, double rawRate)
    {
        var results = new List<(string, string)>();
        foreach (var fifo in new[] { false, true })
        {
            // The same keyed messages both times: only the endpoint's ordering differs.
            var measured = await Scenarios.EndToEndAsync(run, 1, deliveries, orderingKeys: Keys, fifo: fifo);
            var rate = measured.DeliveriesPerSecond;
            var name = fifo ? $"end to end, 1 fifo endpoint, {Keys} keys" : $"end to end, 1 unordered endpoint ({Keys} keys ignored)";
            results.Add((name, $"{rate:N0} /s ({rate / rawRate:P0} of raw); published in {measured.PublishSeconds:0.00} s"));
        }
        return results;
    }
}
