using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>An endpoint's <c>maxInFlight</c> bounds the requests a worker keeps open to it, below and above the worker's default.</summary>
[Collection(StackFixture.Collection)]
public sealed class InFlightCapTests(StackFixture fixture)
{
    [Fact]
    public async Task An_endpoints_max_in_flight_caps_concurrent_requests_below_and_above_the_workers_default()
    {
        // One worker with the default cap (16) and room for 128 requests: only the endpoint's own setting can explain
        // fewer than 16 or more than 16 requests open at once.
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 1);
        var api = isolated.Client();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var narrow = new HeldRequests(gate.Task);
        var wide = new HeldRequests(gate.Task);
        await using var s = await Scenario.CreateAsync(api, e => e with { MaxInFlight = 2, TimeoutSeconds = 60 }, narrow.HoldAsync);
        await using var wideReceiver = await TestReceiver.StartAsync(s.Secret, "order.created");
        wideReceiver.Respond = wide.HoldAsync;
        var wideEndpoint = await api.CreateEndpointAsync(s.App.Id,
            new EndpointIn(wideReceiver.WebhookUrl.ToString(), Secret: s.Secret, EventTypes: ["order.created"], TimeoutSeconds: 60, MaxInFlight: 64));
        Assert.Equal(2, (await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).MaxInFlight);
        Assert.Equal(64, wideEndpoint.Endpoint.MaxInFlight);

        var published = await s.PublishManyAsync(80);
        // The wide endpoint gets more requests open at once than the worker's default allows.
        await Eventually.HoldsAsync(() => wide.Open > 16, TimeSpan.FromSeconds(30), "more than 16 requests open to the endpoint with maxInFlight 64");
        await Eventually.HoldsAsync(() => narrow.Open == 2, TimeSpan.FromSeconds(30), "2 requests open to the endpoint with maxInFlight 2");
        // A claim after the 80 messages (the sentinel, on an endpoint of its own in the same application) would have taken
        // more of the narrow endpoint's due deliveries if the cap let it: they are older than the sentinel.
        await s.SentinelDeliveredAsync();
        Assert.Equal(2, narrow.MaxOpen);
        Assert.Equal(2, s.Receiver.Requests.Count);
        Assert.InRange(wide.MaxOpen, 17, 64);

        gate.SetResult();
        await s.WaitForHandledAsync(80, TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(() => wideReceiver.Handled.Select(h => h.Id).Distinct().Count() >= 80, TimeSpan.FromSeconds(60), "the wide endpoint gets all 80");
        Assert.Equal(published.Select(m => m.Id).Order(), s.Receiver.Handled.Select(h => h.Id).Distinct().Order());
        Assert.Equal(2, narrow.MaxOpen);
        Assert.InRange(wide.MaxOpen, 17, 64);
    }

    /// <summary>A receiver's answer that waits for the gate, counting the requests open meanwhile.</summary>
    private sealed class HeldRequests(Task gate)
    {
        private int _open;
        private int _maxOpen;

        public int Open => Volatile.Read(ref _open);
        public int MaxOpen => Volatile.Read(ref _maxOpen);

        public async Task<int?> HoldAsync(ReceivedRequest request)
        {
            var open = Interlocked.Increment(ref _open);
            int max;
            while (open > (max = Volatile.Read(ref _maxOpen)) && Interlocked.CompareExchange(ref _maxOpen, open, max) != max)
            {
            }
            try
            {
                await gate;
                return null;
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }
    }
}
