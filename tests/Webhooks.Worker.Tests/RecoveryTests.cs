using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Resend and recover, through the API and the real worker.</summary>
[Collection(StackFixture.Collection)]
public sealed class RecoveryTests(StackFixture fixture)
{
    [Fact]
    public async Task Exhausted_deliveries_are_recovered_since_a_time_and_one_is_resent()
    {
        await fixture.Stack.WorkerAsync();
        var healthy = false;
        // Five failures in a row: more than the circuit breaker's default threshold, which would hold the resend and the
        // recovered deliveries until a probe (CircuitBreakerTests); this test is about resend and recover alone.
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { RetrySchedule = [0], CircuitBreakerThreshold = 100 }, _ => Task.FromResult(healthy ? null : (int?)500));
        // One delivery exhausted before the time recovery starts from: it stays exhausted.
        var before = await s.PublishAsync(0);
        await s.WaitForStatusAsync(before.Id, "exhausted", TimeSpan.FromSeconds(20));
        await Task.Delay(50);
        var since = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        var messages = await s.PublishManyAsync(4);
        foreach (var message in messages)
        {
            await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        }
        healthy = true;

        var resent = await s.Api.ResendAsync(s.App.Id, messages[0].Id, s.Endpoint.Id);
        Assert.Equal("pending", resent.Status);
        await s.WaitForStatusAsync(messages[0].Id, "succeeded", TimeSpan.FromSeconds(20));
        Assert.Equal(2, (await s.AttemptsAsync(messages[0].Id)).Count);

        var recovered = await s.Api.RecoverAsync(s.App.Id, s.Endpoint.Id, new RecoverIn(since));
        Assert.Equal(3, recovered.Requeued);
        foreach (var message in messages)
        {
            await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        }
        Assert.True(messages.Select(m => m.Id).ToHashSet().SetEquals(s.Receiver.Handled.Select(h => h.Id)));
        var left = await s.DeliveryAsync(before.Id);
        Assert.Equal("exhausted", left.Status);
        Assert.Single(await s.AttemptsAsync(before.Id));
    }
}
