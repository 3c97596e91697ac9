using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Rate limits, per-endpoint caps, and one endpoint's trouble not slowing another's deliveries.</summary>
[Collection(StackFixture.Collection)]
public sealed class IsolationTests(StackFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Rate_limit_is_shared_by_all_workers_and_throttled_deliveries_go_back_unattempted()
    {
        // Two workers: a bucket per worker would let 10 a second through.
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 2);
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RateLimitPerSecond = 5 });
        await s.PublishManyAsync(20);
        await s.WaitForHandledAsync(20, TimeSpan.FromSeconds(30));
        // Every attempt on record reached the receiver: a throttled delivery was handed back, not counted as an attempt.
        // (Records are written in batches after the answers: the last may land a moment after the receiver handled it.)
        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts") == s.Receiver.Requests.Count,
            TimeSpan.FromSeconds(10), "every request's attempt is on record");
        Assert.Equal(s.Receiver.Requests.Count, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts"));
        Assert.Equal(20, s.Receiver.Requests.Count);
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE attempt_count > 1"));
        // When each request was sent (the attempt's start, taken by the worker that held the token; both workers share
        // this machine's clock). What the receiver sees is no measure: a new connection on a loaded machine can hold the
        // first requests back by hundreds of milliseconds and then deliver them together with later ones.
        var times = (await isolated.QueryAsync<DateTime[]>("SELECT array_agg(started_at ORDER BY started_at) FROM delivery_attempts"))
            .Select(t => new DateTimeOffset(t, TimeSpan.Zero)).ToArray();
        // A burst of 5, then 5 a second: the 20th request goes out 3 s after the first. Allowing half a second between
        // taking a token and starting the request on a loaded machine, that is still far from a bucket per worker (~1 s).
        Assert.True((times[^1] - times[0]).TotalSeconds >= 2.5, $"20 requests took {(times[^1] - times[0]).TotalSeconds:0.00} s");
        var offsets = string.Join(", ", times.Select(t => (t - times[0]).TotalMilliseconds.ToString("0")));
        output.WriteLine($"request offsets (ms): {offsets}");
        // The token bucket's promise: any k consecutive requests span at least (k - burst) / rate seconds
        // (less 150 ms between taking a token and starting the request).
        for (var i = 0; i < times.Length; i++)
        {
            for (var j = i + 6; j < times.Length; j++)
            {
                var k = j - i + 1;
                Assert.True((times[j] - times[i]).TotalSeconds >= (k - 5) / 5.0 - 0.15,
                    $"requests {i}..{j} came faster than 5/s with a burst of 5: {offsets}");
            }
        }
    }

    [Fact]
    public async Task A_hanging_endpoint_does_not_delay_deliveries_to_a_healthy_one()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        // The hanging endpoint answers only when the test lets it (within its 60 s timeout), so "no attempt of it has
        // ended yet" below holds by construction, not because the healthy deliveries beat a clock.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var hanging = await Scenario.CreateAsync(api, e => e with { TimeoutSeconds = 60, RetrySchedule = [0] },
            async _ =>
            {
                await release.Task;
                return 200;
            });
        await using var healthy = await Scenario.CreateAsync(api);

        await hanging.PublishManyAsync(60);
        await Eventually.HoldsAsync(() => hanging.Receiver.Requests.Count >= 10, TimeSpan.FromSeconds(30), "the hanging endpoint holds requests");

        await healthy.PublishManyAsync(20);
        await healthy.WaitForHandledAsync(20, TimeSpan.FromSeconds(30));
        // All delivered while every hanging request was still held: none had ended, so the healthy deliveries did not
        // wait for a slot the hanging endpoint held.
        Assert.Empty((await api.ListEndpointAttemptsAsync(hanging.App.Id, hanging.Endpoint.Id)).Data);
        // The hanging endpoint never had more than the per-endpoint cap in flight.
        Assert.InRange(hanging.Receiver.Requests.Count, 1, 16);
        release.SetResult();
    }
}
