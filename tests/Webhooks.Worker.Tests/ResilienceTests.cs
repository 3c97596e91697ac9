using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Nothing accepted is lost: not when a worker dies mid-batch, not while Redis is down.</summary>
[Collection(StackFixture.Collection)]
public sealed class ResilienceTests(StackFixture fixture)
{
    [Fact]
    public async Task A_worker_killed_mid_batch_loses_nothing_and_duplicates_only_its_in_flight_deliveries()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__LeaseMarginSeconds"] = "2",
            ["Webhooks__Delivery__LeaseSweepSeconds"] = "1",
            ["Webhooks__Delivery__MaxInFlightPerEndpoint"] = "16",
        }, workers: 2);
        // Slow answers keep requests in flight, so the kill lands mid-batch.
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { TimeoutSeconds = 3 },
            async _ =>
            {
                await Task.Delay(250);
                return null;
            });
        var publishing = s.PublishManyAsync(300);

        await Eventually.HoldsAsync(() => s.Receiver.Handled.Count >= 40, TimeSpan.FromSeconds(30), "deliveries are under way");
        isolated.Workers[0].Process.Kill();
        var requestsAtKill = s.Receiver.Requests.Count;
        var published = await publishing;
        Assert.True(requestsAtKill < 250, $"the kill came mid-stream ({requestsAtKill} requests so far)");

        await s.WaitForHandledAsync(300, TimeSpan.FromSeconds(90));
        var ids = published.Select(m => m.Id).ToHashSet();
        Assert.True(ids.SetEquals(s.Receiver.Handled.Select(h => h.Id)), "every published message was handled exactly once by the receiver");

        // Sent twice: only what the killed worker had in flight (at most its per-endpoint cap).
        var duplicates = s.Receiver.Requests.GroupBy(r => r.Headers["webhook-id"]).Count(g => g.Count() > 1);
        Assert.InRange(duplicates, 0, 16);

        await Eventually.HoldsAsync(async () =>
                await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'") == 0,
            TimeSpan.FromSeconds(30), "every delivery is recorded as succeeded");
    }

    [Fact]
    public async Task Delivery_goes_on_by_polling_while_redis_is_down_and_wake_ups_return_with_it()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 1, ownRedis: true);
        await using var s = await Scenario.CreateAsync(isolated.Client());

        await s.PublishManyAsync(5);
        await s.WaitForHandledAsync(5, TimeSpan.FromSeconds(10));

        await isolated.StopRedisAsync();
        await s.PublishManyAsync(10);
        await s.WaitForHandledAsync(15, TimeSpan.FromSeconds(20));

        await isolated.StartRedisAsync();
        // Once reconnected, publishing wakes the worker again; either way nothing waits longer than a poll.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await s.PublishManyAsync(10);
        await s.WaitForHandledAsync(25, TimeSpan.FromSeconds(20));
        Assert.Equal(25, s.Receiver.Handled.Select(h => h.Id).Distinct().Count());
    }

    [Fact]
    public async Task Retention_deletes_old_attempts_and_finished_messages_and_keeps_the_rest()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__RetentionDays"] = "30",
            ["Webhooks__Delivery__RetentionIntervalSeconds"] = "1",
        });
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RetrySchedule = [0] });
        var finished = await s.PublishAsync(1);
        var unfinished = await s.PublishAsync(2);
        var recent = await s.PublishAsync(3);
        await s.WaitForStatusAsync(recent.Id, "succeeded", TimeSpan.FromSeconds(20));
        await s.WaitForStatusAsync(unfinished.Id, "succeeded", TimeSpan.FromSeconds(20));
        await s.WaitForStatusAsync(finished.Id, "succeeded", TimeSpan.FromSeconds(20));

        // Age two messages (and their attempts) past the retention period; one of them is still being retried.
        await isolated.QueryAsync<int>("""
            WITH aged AS (UPDATE messages SET created_at = now() - interval '40 days' WHERE id = ANY(@ids) RETURNING 1),
                 attempts AS (UPDATE delivery_attempts SET started_at = now() - interval '40 days' WHERE message_id = ANY(@ids) RETURNING 1),
                 retrying AS (UPDATE deliveries SET status = 'failed', next_attempt_at = now() + interval '1 day' WHERE message_id = @unfinished RETURNING 1)
            SELECT 1
            """, ("ids", new[] { finished.Id, unfinished.Id }), ("unfinished", unfinished.Id));

        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", finished.Id)) == 0,
            TimeSpan.FromSeconds(30), "the old finished message is deleted");
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE started_at < now() - interval '30 days'"));
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", unfinished.Id)));
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE message_id = @id", ("id", unfinished.Id)));
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE message_id = @id", ("id", recent.Id)));
    }
}
