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
        var killed = isolated.Workers[0].Process;
        killed.Kill();
        var requestsAtKill = s.Receiver.Requests.Count;
        // What the dead worker held (leases are owned by "host/pid/nonce"): sent or about to be, not recorded. Nothing
        // changes these rows until their leases expire, seconds from now.
        var leasedByKilled = (await isolated.QueryAsync<string[]>(
            "SELECT coalesce(array_agg(message_id), '{}') FROM deliveries WHERE status = 'in_flight' AND lease_owner LIKE @owner",
            ("owner", $"%/{killed.Id}/%"))).ToHashSet();
        // Publishing goes on during and after the kill (the API does not depend on a worker): every publish answered
        // 2xx (the client throws on anything else) must be delivered by the surviving worker.
        var afterKill = await s.PublishManyAsync(60);
        var published = (await publishing).Concat(afterKill).ToList();
        Assert.True(requestsAtKill < 250, $"the kill came mid-stream ({requestsAtKill} requests so far)");

        await s.WaitForHandledAsync(published.Count, TimeSpan.FromSeconds(90));
        var ids = published.Select(m => m.Id).ToHashSet();
        Assert.Equal(360, ids.Count);
        Assert.True(ids.SetEquals(s.Receiver.Handled.Select(h => h.Id)), "every message published before, during and after the kill was handled by the receiver");

        await Eventually.HoldsAsync(async () =>
                await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'") == 0,
            TimeSpan.FromSeconds(30), "every delivery is recorded as succeeded");
        // Taken over: what the killed worker held was recorded by the sweep (lease expired) and then sent by the other.
        var expired = await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE error_kind = 'lease_expired'");
        Assert.True(expired >= 1, "the killed worker's leases expired and were recorded");
        // Every request the receiver got is on record, id by id (the killed worker's unrecorded ones as lease_expired),
        // and each message sent again follows an expired lease.
        var duplicated = await Ledger.AssertEveryRequestRecordedAsync(isolated, s);
        // Sent twice: only what the killed worker held when it died, and it held some (the takeover above). Not bounded by
        // its MaxInFlightPerEndpoint (16): a finished request frees its slot before its record lands, so a worker can hold
        // more leases than requests in flight; the leases it held are the exact bound.
        TestStack.Log($"kill: worker {killed.Id} held {leasedByKilled.Count} leases; {duplicated.Ids.Count} messages were sent twice");
        Assert.NotEmpty(duplicated.Ids);
        Assert.True(duplicated.Ids.IsSubsetOf(leasedByKilled),
            $"sent twice though the killed worker did not hold them: {string.Join(", ", duplicated.Ids.Except(leasedByKilled))}");
    }

    [Fact]
    public async Task Delivery_goes_on_by_polling_while_redis_is_down_and_wake_ups_return_with_it()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 1, ownRedis: true);
        await using var s = await Scenario.CreateAsync(isolated.Client());

        await s.PublishManyAsync(5);
        await s.WaitForHandledAsync(5, TimeSpan.FromSeconds(10));

        long logStart;
        using (var log = new FileStream(TestStack.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            logStart = log.Length;
        }
        await isolated.StopRedisAsync();
        await s.PublishManyAsync(10);
        await s.WaitForHandledAsync(15, TimeSpan.FromSeconds(20));

        await isolated.StartRedisAsync();
        await SubscribedAgainAsync(isolated);
        await s.PublishManyAsync(10);
        await s.WaitForHandledAsync(25, TimeSpan.FromSeconds(20));
        Assert.Equal(25, s.Receiver.Handled.Select(h => h.Id).Distinct().Count());

        // The outage was told by the worker and the API in one line when Redis went, one when it came back, and no trace.
        foreach (var service in isolated.Workers.Append(isolated.Api))
        {
            var name = $"[{service.Process.Name}]";
            string[] mine = [];
            await Eventually.HoldsAsync(() =>
            {
                using var log = new FileStream(TestStack.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                log.Seek(logStart, SeekOrigin.Begin);
                mine = new StreamReader(log).ReadToEnd().Split('\n').Where(l => l.Contains(name, StringComparison.Ordinal)).ToArray();
                return mine.Any(l => l.Contains("Redis is back after", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(30), $"{name} says Redis is back");
            Assert.Single(mine, l => l.Contains("Redis is unreachable", StringComparison.Ordinal));
            Assert.Single(mine, l => l.Contains("Redis is back after", StringComparison.Ordinal));
            Assert.DoesNotContain(mine, l => l.Contains("   at ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Publishing_wakes_a_worker_through_redis_long_before_its_poll_before_and_after_a_redis_restart()
    {
        // Polling every 30 s: a delivery within a few seconds was woken through Redis.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__PollIntervalSeconds"] = "30",
        }, ownRedis: true);
        await using var s = await Scenario.CreateAsync(isolated.Client());
        await SubscribedAgainAsync(isolated);
        async Task DeliveredPromptlyAsync(int n)
        {
            var message = await s.PublishAsync(n);
            await Eventually.HoldsAsync(() => s.Receiver.Handled.Any(h => h.Id == message.Id), TimeSpan.FromSeconds(4),
                $"message {n} is delivered within 4 s of its publish, woken through Redis (the poll is every 30 s)");
        }

        // Two in a row: a poll falling due could serve one of them by chance, never both (polls are 30 s apart).
        await DeliveredPromptlyAsync(1);
        await DeliveredPromptlyAsync(2);

        await isolated.StopRedisAsync();
        await isolated.StartRedisAsync();
        await SubscribedAgainAsync(isolated);
        await DeliveredPromptlyAsync(3);
        await DeliveredPromptlyAsync(4);
    }

    /// <summary>
    /// Waits until the API and the worker are connected to this stack's Redis (at least four connections: each has an
    /// interactive and a subscription one) and the worker listens for wake-ups.
    /// </summary>
    private static async Task SubscribedAgainAsync(IsolatedStack isolated)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(
            $"127.0.0.1:{isolated.RedisPort},abortConnect=false,allowAdmin=true,name=test-probe");
        var server = redis.GetServer("127.0.0.1", isolated.RedisPort);
        await Eventually.HoldsAsync(async () =>
        {
            if (!redis.IsConnected)
            {
                return false;
            }
            var subscribers = (StackExchange.Redis.RedisResult[])(await server.ExecuteAsync("PUBSUB", "NUMSUB", Core.Delivery.DispatchSignal.Channel.ToString()))!;
            var clients = ((string)(await server.ExecuteAsync("CLIENT", "LIST"))!).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Count(line => !line.Contains("name=test-probe", StringComparison.Ordinal));
            return (long)subscribers[1] >= 1 && clients >= 4;
        }, TimeSpan.FromSeconds(60), "the API and the worker are connected to Redis and the worker is subscribed to wake-ups");
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
        var pending = await s.PublishAsync(3);
        var inFlight = await s.PublishAsync(4);
        var recent = await s.PublishAsync(5);
        foreach (var message in new[] { finished, unfinished, pending, inFlight, recent })
        {
            await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        }

        // Age four messages (and their attempts) past the retention period; three of them are not finished: one is
        // being retried, one waits (parked), one is in flight under a live lease.
        await isolated.QueryAsync<int>("""
            WITH aged AS (UPDATE messages SET created_at = now() - interval '40 days' WHERE id = ANY(@ids) RETURNING 1),
                 attempts AS (UPDATE delivery_attempts SET started_at = now() - interval '40 days' WHERE message_id = ANY(@ids) RETURNING 1),
                 retrying AS (UPDATE deliveries SET status = 'failed', next_attempt_at = now() + interval '1 day' WHERE message_id = @unfinished RETURNING 1),
                 waiting AS (UPDATE deliveries SET status = 'pending', next_attempt_at = NULL WHERE message_id = @pending RETURNING 1),
                 leased AS (UPDATE deliveries SET status = 'in_flight', lease_owner = 'elsewhere', lease_expires_at = now() + interval '1 day'
                            WHERE message_id = @in_flight RETURNING 1)
            SELECT 1
            """, ("ids", new[] { finished.Id, unfinished.Id, pending.Id, inFlight.Id }), ("unfinished", unfinished.Id), ("pending", pending.Id),
            ("in_flight", inFlight.Id));

        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", finished.Id)) == 0,
            TimeSpan.FromSeconds(30), "the old finished message is deleted");
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE started_at < now() - interval '30 days'"));
        foreach (var kept in new[] { unfinished, pending, inFlight, recent })
        {
            Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", kept.Id)));
            Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE message_id = @id", ("id", kept.Id)));
        }
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts WHERE message_id = @id", ("id", recent.Id)));
    }
}
