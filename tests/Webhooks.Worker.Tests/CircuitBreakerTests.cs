using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// The circuit breaker: an endpoint that keeps failing is left alone (its deliveries wait, unattempted) but for one probe
/// per cool-down, and its backlog flows once a probe gets through.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class CircuitBreakerTests(StackFixture fixture)
{
    private const int Threshold = 5;
    private const int PerEndpoint = 2;
    private const int Workers = 2;

    [Fact]
    public async Task A_receiver_that_alternates_failure_and_success_never_opens_its_circuit()
    {
        // Records are written in batches: failures with a success between them must not add up as "in a row" because
        // they share a batch. One request in flight, so the receiver's alternation is also the order the attempts started.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__CircuitBreakerThreshold"] = "4",
            ["Webhooks__Delivery__CircuitBreakerCooldownSeconds"] = "60",
            ["Webhooks__Delivery__MaxInFlightPerEndpoint"] = "1",
        });
        var api = isolated.Client();
        var answered = 0;
        await using var s = await Scenario.CreateAsync(api, e => e with { RetrySchedule = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
            _ => Task.FromResult(Interlocked.Increment(ref answered) % 2 == 1 ? 503 : (int?)null));

        await s.PublishManyAsync(60);
        await s.WaitForHandledAsync(60, TimeSpan.FromSeconds(150));

        var opened = await isolated.QueryAsync<long>(
            "SELECT count(*) FROM endpoint_events WHERE endpoint_id = @id AND kind = 'circuit_opened'", ("id", s.Endpoint.Id));
        Assert.Equal(0, opened);
        Assert.Equal(CircuitStates.Closed, (await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).CircuitState);
    }

    [Fact]
    public async Task A_dead_endpoint_gets_only_probes_while_its_circuit_is_open_and_its_whole_backlog_once_it_recovers()
    {
        // Two workers, so the single probe is decided in the database, not by one worker; cool-downs short enough for a test.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__CircuitBreakerThreshold"] = Threshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Webhooks__Delivery__CircuitBreakerCooldownSeconds"] = "1",
            ["Webhooks__Delivery__CircuitBreakerMaxCooldownSeconds"] = "2",
            ["Webhooks__Delivery__MaxInFlightPerEndpoint"] = PerEndpoint.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, workers: Workers);
        var api = isolated.Client();

        // The platform owner hears of the circuit opening and closing.
        var ownerSecret = WebhookSecret.Generate().ToString();
        await using var owner = await TestReceiver.StartAsync(ownerSecret, "endpoint.circuit_opened", "endpoint.circuit_closed");
        var operational = await api.CreateApplicationAsync(new ApplicationIn("platform operations", "operational"));
        await api.CreateEndpointAsync(operational.Id, new EndpointIn(owner.WebhookUrl.ToString(),
            EventTypes: ["endpoint.circuit_opened", "endpoint.circuit_closed"], Secret: ownerSecret));

        // A receiver that answers 503 until it recovers; retries a second apart, so the schedule is never what holds a delivery back.
        var down = true;
        await using var s = await Scenario.CreateAsync(api, e => e with { RetrySchedule = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
            _ => Task.FromResult(Volatile.Read(ref down) ? 503 : (int?)null));
        // Another endpoint of the same application, healthy.
        await using var healthy = await TestReceiver.StartAsync(s.Secret, "order.created");
        var other = await api.CreateEndpointAsync(s.App.Id, new EndpointIn(healthy.WebhookUrl.ToString(), Secret: s.Secret, EventTypes: ["order.created"]));

        var messages = await s.PublishManyAsync(50);
        await Eventually.HoldsAsync(async () => (await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).CircuitState == CircuitStates.Open,
            TimeSpan.FromSeconds(30), "the circuit opens");
        var opened = await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.NotNull(opened.CircuitOpenedAt);
        Assert.True(opened.CircuitRetryAt > opened.CircuitOpenedAt);
        Assert.False(opened.Disabled);

        // Down for a while: several cool-downs pass, each probe fails and re-opens the circuit.
        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<int>("SELECT circuit_reopens FROM endpoints WHERE id = @id", ("id", s.Endpoint.Id)) >= 3,
            TimeSpan.FromSeconds(60), "three probes fail");
        var reopens = await isolated.QueryAsync<int>("SELECT circuit_reopens FROM endpoints WHERE id = @id", ("id", s.Endpoint.Id));
        var attempts = await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE endpoint_id = @id", ("id", s.Endpoint.Id));
        var requests = s.Receiver.Requests.Count;
        // Up to the threshold (a worker sends no more to an endpoint while its failures there are unrecorded, so at most a
        // cap's worth per worker beyond it), then one probe per cool-down, and the one out now.
        Assert.True(requests <= Threshold + (Workers * PerEndpoint) + reopens + 1, $"{requests} requests with {reopens} failed probes");
        Assert.True(attempts <= requests, $"{attempts} attempts recorded, {requests} requests received");
        // The rest wait unattempted, their schedules untouched: not due (held), no attempt counted.
        var waiting = (await api.ListEndpointDeliveriesAsync(s.App.Id, s.Endpoint.Id, new DeliveryQuery(Limit: 100))).Data;
        Assert.True(waiting.Count(d => d is { Status: "pending", AttemptCount: 0, NextAttemptAt: null }) >= 50 - attempts,
            string.Join(", ", waiting.Select(d => $"{d.Status}/{d.AttemptCount}/{d.NextAttemptAt}")));
        // A test event is a diagnostic someone asked for: sent at once whatever the circuit says, and it counts neither way.
        var test = await api.TestEndpointAsync(s.App.Id, s.Endpoint.Id, new EndpointTestIn("order.created"));
        Assert.Equal((503, "test"), (test.Attempt?.ResponseStatus, test.Attempt?.Trigger));
        Assert.NotEqual(CircuitStates.Closed, (await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).CircuitState);
        // The other endpoint got everything meanwhile, its circuit closed.
        await Eventually.HoldsAsync(() => healthy.Handled.Select(h => h.Id).Distinct().Count() == 50, TimeSpan.FromSeconds(30), "the healthy endpoint gets all 50");
        Assert.Equal(CircuitStates.Closed, (await api.GetEndpointAsync(s.App.Id, other.Id)).CircuitState);

        // The receiver recovers: the next probe succeeds, the circuit closes and the backlog flows.
        Volatile.Write(ref down, false);
        await s.WaitForHandledAsync(50, TimeSpan.FromSeconds(90));
        Assert.Equal(messages.Select(m => m.Id).Order(), s.Receiver.Handled.Select(h => h.Id).Distinct().Order());
        var closed = await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.Equal(CircuitStates.Closed, closed.CircuitState);
        Assert.Null(closed.CircuitOpenedAt);
        Assert.Equal(0, closed.ConsecutiveFailures);

        // Recorded in the endpoint's history, and sent to the platform owner, once each.
        var history = (await api.ListEndpointHistoryAsync(s.App.Id, s.Endpoint.Id)).Data;
        Assert.Equal(["circuit_closed", "circuit_opened"], history.Select(h => h.Kind));
        Assert.Equal("succeeded", history[0].Data.GetProperty("reason").GetString());
        Assert.True(history[1].Data.GetProperty("consecutiveFailures").GetInt32() >= Threshold);
        Assert.Empty((await api.ListEndpointHistoryAsync(s.App.Id, other.Id)).Data);
        await Eventually.HoldsAsync(() => owner.Handled.Any(h => h.EventType == "endpoint.circuit_closed"), TimeSpan.FromSeconds(20), "circuit_closed is sent");
        var openedEvent = Assert.Single(owner.Handled, h => h.EventType == "endpoint.circuit_opened");
        var closedEvent = Assert.Single(owner.Handled, h => h.EventType == "endpoint.circuit_closed");
        Assert.All([openedEvent, closedEvent], e =>
        {
            Assert.Equal(s.App.Id, e.Data.GetProperty("applicationId").GetString());
            Assert.Equal(s.Endpoint.Id, e.Data.GetProperty("endpointId").GetString());
            Assert.Equal(s.Endpoint.Url, e.Data.GetProperty("url").GetString());
        });
        Assert.Equal(opened.CircuitOpenedAt, openedEvent.Data.GetProperty("openedAt").GetDateTimeOffset());
        Assert.Equal(opened.CircuitOpenedAt, closedEvent.Data.GetProperty("openedAt").GetDateTimeOffset());
    }
}
