using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Disabling failing endpoints, parking their deliveries, and resuming when enabled.</summary>
[Collection(StackFixture.Collection)]
public sealed class EndpointHealthTests(StackFixture fixture)
{
    [Fact]
    public async Task Gone_disables_the_endpoint_at_once_and_later_messages_wait_until_it_is_enabled()
    {
        await fixture.Stack.WorkerAsync();
        var healthy = false;
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { RetrySchedule = [0, 1, 1] }, _ => Task.FromResult(healthy ? null : (int?)410));

        var first = await s.PublishAsync(1);
        await s.WaitForStatusAsync(first.Id, "exhausted", TimeSpan.FromSeconds(20));
        var endpoint = await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.True(endpoint.Disabled);
        Assert.Contains("410", endpoint.DisabledReason, StringComparison.Ordinal);

        var second = await s.PublishAsync(2);
        await s.SentinelDeliveredAsync();
        Assert.Single(s.Receiver.Requests);
        var parked = await s.DeliveryAsync(second.Id);
        Assert.Equal("pending", parked.Status);
        Assert.Null(parked.NextAttemptAt);

        healthy = true;
        await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        await s.WaitForStatusAsync(second.Id, "succeeded", TimeSpan.FromSeconds(20));
        Assert.Equal(2, s.Receiver.Handled.Single().Data.GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Endpoint_failing_past_the_threshold_is_disabled_its_deliveries_kept_and_resumed_on_enable()
    {
        var stack = fixture.Stack;
        await using var isolated = await stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__DisableAfterFailures"] = "4",
            ["Webhooks__Delivery__DisableAfterSeconds"] = "2",
        });
        var healthy = false;
        await using var s = await Scenario.CreateAsync(isolated.Client(),
            e => e with { RetrySchedule = [0, 1, 1, 1, 1, 1, 1, 1] }, _ => Task.FromResult(healthy ? null : (int?)500));

        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(async () => (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Disabled,
            TimeSpan.FromSeconds(30), "the endpoint is disabled");
        var endpoint = await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.StartsWith("Failing without a success since", endpoint.DisabledReason, StringComparison.Ordinal);
        Assert.True(endpoint.ConsecutiveFailures >= 4);
        var attemptsWhenDisabled = s.Receiver.Requests.Count;
        // Failures alone are not enough: the streak had to last the threshold too (≥ 2 s at one retry a second).
        Assert.True(attemptsWhenDisabled >= 3, $"{attemptsWhenDisabled} attempts");

        var later = await s.PublishAsync(2);
        await s.SentinelDeliveredAsync();
        Assert.Equal(attemptsWhenDisabled, s.Receiver.Requests.Count);
        Assert.Equal("failed", (await s.DeliveryAsync(message.Id)).Status);
        Assert.Null((await s.DeliveryAsync(message.Id)).NextAttemptAt);

        healthy = true;
        var enabled = await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.False(enabled.Disabled);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        await s.WaitForStatusAsync(later.Id, "succeeded", TimeSpan.FromSeconds(20));
        Assert.Equal(0, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).ConsecutiveFailures);
    }

    [Fact]
    public async Task Auto_disable_needs_both_the_failure_count_and_the_duration_and_a_success_resets_the_streak()
    {
        // At least 3 failures in a row, failing for at least an hour; the hour is made to pass by moving the start of
        // the streak back on the database's clock.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__DisableAfterFailures"] = "3",
            ["Webhooks__Delivery__DisableAfterSeconds"] = "3600",
        });
        var api = isolated.Client();

        async Task<EndpointOut> AttemptAsync(Scenario s, bool fail)
        {
            var message = await s.PublishAsync(fail ? 500 : 200);
            await s.WaitForStatusAsync(message.Id, fail ? "exhausted" : "succeeded", TimeSpan.FromSeconds(20));
            // The endpoint's health is written in the transaction that records the attempt.
            return await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        }
        Task BackdateStreakAsync(Scenario s) => isolated.QueryAsync<int>(
            "WITH x AS (UPDATE endpoints SET first_failure_at = now() - interval '2 hours' WHERE id = @id RETURNING 1) SELECT 1",
            ("id", s.Endpoint.Id));
        Task<Scenario> ScenarioAsync() => Scenario.CreateAsync(api, e => e with { RetrySchedule = [0] },
            r => Task.FromResult(r.Body.AsSpan().IndexOf("\"n\":500"u8) >= 0 ? 500 : (int?)null));

        // The count alone: four failures within seconds leave the endpoint enabled; once the streak is an hour old, the next disables it.
        await using (var count = await ScenarioAsync())
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.False((await AttemptAsync(count, fail: true)).Disabled);
            }
            await BackdateStreakAsync(count);
            var disabled = await AttemptAsync(count, fail: true);
            Assert.True(disabled.Disabled);
            Assert.StartsWith("Failing without a success since", disabled.DisabledReason, StringComparison.Ordinal);
        }

        // The duration alone: a streak two hours old is not disabled until it has 3 failures.
        await using (var duration = await ScenarioAsync())
        {
            Assert.False((await AttemptAsync(duration, fail: true)).Disabled);
            await BackdateStreakAsync(duration);
            Assert.False((await AttemptAsync(duration, fail: true)).Disabled);
            Assert.True((await AttemptAsync(duration, fail: true)).Disabled);
        }

        // One success ends the streak: the count and its start begin again.
        await using (var reset = await ScenarioAsync())
        {
            await AttemptAsync(reset, fail: true);
            await AttemptAsync(reset, fail: true);
            await BackdateStreakAsync(reset);
            var succeeded = await AttemptAsync(reset, fail: false);
            Assert.Equal(0, succeeded.ConsecutiveFailures);
            var failedAgain = await AttemptAsync(reset, fail: true);
            Assert.False(failedAgain.Disabled);
            Assert.Equal(1, failedAgain.ConsecutiveFailures);
        }
    }

    [Fact]
    public async Task Disabling_by_request_parks_deliveries_and_enabling_delivers_them()
    {
        await fixture.Stack.WorkerAsync();
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync());
        var disabled = await s.Api.DisableEndpointAsync(s.App.Id, s.Endpoint.Id, new DisableEndpointIn("maintenance"));
        Assert.Equal("maintenance", disabled.DisabledReason);
        var messages = await s.PublishManyAsync(5);
        await s.SentinelDeliveredAsync();
        Assert.Empty(s.Receiver.Requests);
        await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        await s.WaitForHandledAsync(5, TimeSpan.FromSeconds(20));
        Assert.True(messages.Select(m => m.Id).ToHashSet().SetEquals(s.Receiver.Handled.Select(h => h.Id)));
    }
}
