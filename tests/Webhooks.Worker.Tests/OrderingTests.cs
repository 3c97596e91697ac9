using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// Ordered delivery: to a <c>fifo</c> endpoint, one delivery at a time per ordering key, in publish order, a failing one
/// blocking the later ones of its key. Each receiver here notes, per key, the order requests arrive in and how many were
/// in flight at once (each request lingers a few milliseconds, so overlapping ones would be seen).
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class OrderingTests(StackFixture fixture)
{
    /// <summary>What a receiver saw, per ordering key.</summary>
    private sealed class KeyLog
    {
        private readonly ConcurrentDictionary<string, int> _inFlight = new();
        private int _total;
        public ConcurrentQueue<(string Key, int N)> Arrivals { get; } = new();
        public int MaxInFlightPerKey;
        public int MaxInFlight;

        /// <summary>The receiver's answer: null (handled normally) unless <paramref name="fail"/> says a status for this request.</summary>
        public Func<ReceivedRequest, Task<int?>> Respond(Func<string, int, int?>? fail = null) => async request =>
        {
            var data = JsonDocument.Parse(request.Body).RootElement.GetProperty("data");
            var key = data.TryGetProperty("key", out var k) ? k.GetString() ?? "" : "";
            var n = data.GetProperty("n").GetInt32();
            Arrivals.Enqueue((key, n));
            var here = _inFlight.AddOrUpdate(key, 1, (_, v) => v + 1);
            var total = Interlocked.Increment(ref _total);
            Raise(ref MaxInFlightPerKey, here);
            Raise(ref MaxInFlight, total);
            await Task.Delay(5);
            _inFlight.AddOrUpdate(key, 0, (_, v) => v - 1);
            Interlocked.Decrement(ref _total);
            return fail?.Invoke(key, n);
        };

        public List<int> Of(string key) => [.. Arrivals.Where(a => a.Key == key).Select(a => a.N)];

        private static void Raise(ref int max, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref max)) < value && Interlocked.CompareExchange(ref max, value, seen) != seen)
            {
            }
        }
    }

    /// <summary>A fifo endpoint (60 s timeout) whose receiver logs keys in order and holds message <paramref name="heldN"/> until <paramref name="release"/>.</summary>
    private async Task<(IWebhooksApi Api, Scenario S, KeyLog Log)> HeldFifoAsync(int heldN, Task release)
    {
        var log = new KeyLog();
        var respond = log.Respond();
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var s = await Scenario.CreateAsync(api, e => e with { Ordering = OrderingModes.Fifo, TimeoutSeconds = 60 }, async request =>
        {
            var status = await respond(request);
            if (JsonDocument.Parse(request.Body).RootElement.GetProperty("data").GetProperty("n").GetInt32() == heldN)
            {
                await release;
            }
            return status;
        });
        return (api, s, log);
    }

    /// <summary>Switches the scenario's endpoint to unordered, everything else as it was.</summary>
    private static async Task StopOrderingAsync(IWebhooksApi api, Scenario s)
    {
        var endpoint = await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        await api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id, new EndpointUpdateIn(endpoint.Url, EventTypes: endpoint.EventTypes, Ordering: OrderingModes.None));
    }

    private static MessageIn Message(int n, string? key = null) =>
        new("order.created", JsonSerializer.SerializeToElement(new { n, key }), OrderingKey: key);

    private async Task<(Scenario S, KeyLog Log)> FifoAsync(Func<string, int, int?>? fail = null, int[]? schedule = null, string ordering = OrderingModes.Fifo)
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var log = new KeyLog();
        var s = await Scenario.CreateAsync(api, e => e with { Ordering = ordering, RetrySchedule = schedule ?? [0, 1, 1, 1] }, log.Respond(fail));
        return (s, log);
    }

    private static Func<string, int, int?> FailOnce(int n, int status = 500)
    {
        var failed = 0;
        return (_, m) => m == n && Interlocked.Exchange(ref failed, 1) == 0 ? status : null;
    }

    [Fact]
    public async Task A_failed_first_message_blocks_the_rest_which_then_arrive_in_publish_order()
    {
        var (s, log) = await FifoAsync(FailOnce(1));
        await using var _ = s;
        Assert.Equal(OrderingModes.Fifo, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Ordering);
        // No key: one sequence for the endpoint. Published one after the other, some while message 1 waits for its retry.
        for (var n = 1; n <= 30; n++)
        {
            await s.Api.PublishAsync(s.App.Id, Message(n));
        }
        await s.WaitForHandledAsync(30, TimeSpan.FromSeconds(60));
        Assert.Equal([1, .. Enumerable.Range(1, 30)], log.Of(""));
        Assert.Equal(1, log.MaxInFlightPerKey);
    }

    [Fact]
    public async Task Four_keys_of_500_published_concurrently_arrive_in_order_per_key_one_at_a_time_and_in_parallel_across_keys()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        string[] keys = ["alpha", "beta", "gamma", "delta"];
        await Task.WhenAll(keys.Select(async key =>
        {
            foreach (var chunk in Enumerable.Range(1, 500).Chunk(25))
            {
                await s.Api.PublishBatchAsync(s.App.Id, new MessageBatchIn([.. chunk.Select(n => Message(n, key))]));
            }
        }));
        await s.WaitForHandledAsync(2000, TimeSpan.FromSeconds(180));
        foreach (var key in keys)
        {
            Assert.Equal(Enumerable.Range(1, 500), log.Of(key));
        }
        Assert.Equal(1, log.MaxInFlightPerKey);
        // Keys flow independently: several were in flight at once.
        Assert.True(log.MaxInFlight > 1, $"at most {log.MaxInFlight} request(s) in flight across 4 keys");
    }

    [Fact]
    public async Task Concurrent_publishers_to_one_key_are_delivered_in_each_publishers_order_and_in_sequence_order()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        // Four publishers race on one key; each publishes its own messages one after the other (each commits before the
        // next starts), so each one's messages must arrive in its order.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async p =>
        {
            for (var i = 0; i < 50; i++)
            {
                await s.Api.PublishAsync(s.App.Id, Message(p * 1000 + i, "shared"));
            }
        }));
        await s.WaitForHandledAsync(200, TimeSpan.FromSeconds(120));
        var arrived = log.Of("shared");
        Assert.Equal(200, arrived.Count);
        for (var p = 0; p < 4; p++)
        {
            var mine = arrived.Where(n => n / 1000 == p).ToList();
            Assert.Equal(mine.Order(), mine);
        }
        Assert.Equal(1, log.MaxInFlightPerKey);
        // And the arrival order is the sequence the publishes took.
        await using var db = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await db.OpenAsync();
        await using var query = new NpgsqlCommand("""
            SELECT (m.payload::jsonb ->> 'n')::int FROM deliveries d JOIN messages m ON m.id = d.message_id
            WHERE d.endpoint_id = @endpoint ORDER BY d.ordering_seq
            """, db);
        query.Parameters.AddWithValue("endpoint", s.Endpoint.Id);
        var bySequence = new List<int>();
        await using (var reader = await query.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                bySequence.Add(reader.GetInt32(0));
            }
        }
        Assert.Equal(bySequence, arrived);
    }

    [Fact]
    public async Task Concurrent_batches_spanning_the_same_keys_in_opposite_orders_all_commit_and_keep_each_batchs_order()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        string[] keys = ["k1", "k2", "k3", "k4"];
        // Each publisher's batches list the keys in its own order: the head rows are still locked in one order.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async p =>
        {
            var order = p % 2 == 0 ? keys : keys.Reverse().ToArray();
            for (var b = 0; b < 10; b++)
            {
                await s.Api.PublishBatchAsync(s.App.Id, new MessageBatchIn([.. order.Select(key => Message(p * 1000 + b, key))]));
            }
        }));
        await s.WaitForHandledAsync(160, TimeSpan.FromSeconds(120));
        foreach (var key in keys)
        {
            var arrived = log.Of(key);
            Assert.Equal(40, arrived.Count);
            for (var p = 0; p < 4; p++)
            {
                var mine = arrived.Where(n => n / 1000 == p).ToList();
                Assert.Equal(Enumerable.Range(p * 1000, 10), mine);
            }
        }
        Assert.Equal(1, log.MaxInFlightPerKey);
    }

    [Fact]
    public async Task An_open_circuit_and_its_probe_keep_the_order()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__CircuitBreakerThreshold"] = "2",
            ["Webhooks__Delivery__CircuitBreakerCooldownSeconds"] = "1",
            ["Webhooks__Delivery__CircuitBreakerMaxCooldownSeconds"] = "1",
        });
        var api = isolated.Client();
        var log = new KeyLog();
        var down = true;
        await using var s = await Scenario.CreateAsync(api, e => e with { Ordering = OrderingModes.Fifo, RetrySchedule = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
            log.Respond((_, _) => Volatile.Read(ref down) ? 503 : null));
        for (var n = 1; n <= 20; n++)
        {
            await api.PublishAsync(s.App.Id, Message(n, n % 2 == 0 ? "even" : "odd"));
        }
        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<int>("SELECT circuit_reopens FROM endpoints WHERE id = @id", ("id", s.Endpoint.Id)) >= 1,
            TimeSpan.FromSeconds(60), "the circuit opens and a probe fails");
        Volatile.Write(ref down, false);
        await s.WaitForHandledAsync(20, TimeSpan.FromSeconds(60));
        // Each key's first message was tried until the circuit let it through; then the rest in order.
        Assert.Equal(Enumerable.Range(1, 10).Select(i => 2 * i), log.Of("even").Distinct());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 2 * i + 1), log.Of("odd").Distinct());
        Assert.All(log.Of("even").Concat(log.Of("odd")).CountBy(n => n), c => Assert.True(c.Value == 1 || c.Key <= 2, $"message {c.Key} sent {c.Value} times"));
        Assert.Equal(1, log.MaxInFlightPerKey);
    }

    [Fact]
    public async Task A_keys_head_row_is_forgotten_once_the_key_is_idle_and_the_key_starts_again()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__RetentionIntervalSeconds"] = "1",
        });
        var api = isolated.Client();
        var log = new KeyLog();
        await using var s = await Scenario.CreateAsync(api, e => e with { Ordering = OrderingModes.Fifo }, log.Respond());
        for (var n = 1; n <= 3; n++)
        {
            await api.PublishAsync(s.App.Id, Message(n, "once"));
        }
        await s.WaitForHandledAsync(3, TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => await isolated.QueryAsync<long>("SELECT count(*) FROM ordering_heads WHERE endpoint_id = @id", ("id", s.Endpoint.Id)) == 0,
            TimeSpan.FromSeconds(30), "the idle key's head row is purged");
        for (var n = 4; n <= 6; n++)
        {
            await api.PublishAsync(s.App.Id, Message(n, "once"));
        }
        await s.WaitForHandledAsync(6, TimeSpan.FromSeconds(30));
        Assert.Equal([1, 2, 3, 4, 5, 6], log.Of("once"));
        Assert.Equal(1, log.MaxInFlightPerKey);
    }

    [Fact]
    public async Task An_exhausted_message_lets_the_next_one_go()
    {
        // 400 is not retried: message 2 is exhausted at once, and 3 follows.
        var (s, log) = await FifoAsync((_, n) => n == 2 ? 400 : null);
        await using var _ = s;
        var published = new List<MessageOut>();
        for (var n = 1; n <= 4; n++)
        {
            published.Add(await s.Api.PublishAsync(s.App.Id, Message(n, "k")));
        }
        await s.WaitForHandledAsync(3, TimeSpan.FromSeconds(30));
        await s.WaitForStatusAsync(published[3].Id, "succeeded", TimeSpan.FromSeconds(30));
        Assert.Equal([1, 2, 3, 4], log.Of("k"));
        Assert.Equal("exhausted", (await s.DeliveryAsync(published[1].Id)).Status);
    }

    [Fact]
    public async Task A_message_its_transformation_cancels_lets_the_next_one_go()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var log = new KeyLog();
        const string CancelTwo = "function handler(webhook) { if (webhook.payload.data.n === 2) { webhook.cancel = true; } return webhook; }";
        var s = await Scenario.CreateAsync(api, e => e with { Ordering = OrderingModes.Fifo, Transformation = CancelTwo }, log.Respond());
        await using var _ = s;
        var published = new List<MessageOut>();
        for (var n = 1; n <= 4; n++)
        {
            published.Add(await s.Api.PublishAsync(s.App.Id, Message(n, "k")));
        }
        // Message 2 ends cancelled, never sent; its key must not wait for it.
        await s.WaitForStatusAsync(published[3].Id, "succeeded", TimeSpan.FromSeconds(30));
        Assert.Equal([1, 3, 4], log.Of("k"));
        Assert.Equal("cancelled", (await s.DeliveryAsync(published[1].Id)).Status);
    }

    [Fact]
    public async Task An_unordered_endpoint_sends_one_keys_messages_in_parallel()
    {
        var (s, log) = await FifoAsync(ordering: OrderingModes.None);
        await using var _ = s;
        await s.Api.PublishBatchAsync(s.App.Id, new MessageBatchIn([.. Enumerable.Range(1, 200).Select(n => Message(n, "k"))]));
        await s.WaitForHandledAsync(200, TimeSpan.FromSeconds(60));
        Assert.True(log.MaxInFlightPerKey > 1, "an unordered endpoint's deliveries of one key went one at a time");
        var stored = await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.Equal(OrderingModes.None, stored.Ordering);
    }

    [Fact]
    public async Task Disabling_and_enabling_a_fifo_endpoint_keeps_the_order()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        await s.Api.DisableEndpointAsync(s.App.Id, s.Endpoint.Id, new DisableEndpointIn("maintenance"));
        for (var n = 1; n <= 20; n++)
        {
            await s.Api.PublishAsync(s.App.Id, Message(n, n % 2 == 0 ? "even" : "odd"));
        }
        // Parked while disabled; enabling makes each key's head due, not the ones queued behind it.
        await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        await s.WaitForHandledAsync(20, TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => 2 * i), log.Of("even"));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 2 * i + 1), log.Of("odd"));
        Assert.Equal(1, log.MaxInFlightPerKey);
    }

    [Fact]
    public async Task A_head_whose_worker_lost_its_lease_stays_the_head_until_it_is_retried()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        // Parked, so nothing goes before the head is taken by a 'worker' that then dies: its lease has already expired.
        await s.Api.DisableEndpointAsync(s.App.Id, s.Endpoint.Id, new DisableEndpointIn("maintenance"));
        var first = await s.Api.PublishAsync(s.App.Id, Message(1, "k"));
        for (var n = 2; n <= 5; n++)
        {
            await s.Api.PublishAsync(s.App.Id, Message(n, "k"));
        }
        await using (var db = new NpgsqlConnection(fixture.Stack.PostgresConnectionString))
        {
            await db.OpenAsync();
            await using var crash = new NpgsqlCommand("""
                UPDATE deliveries SET status = 'in_flight', lease_owner = 'crashed-worker', lease_expires_at = now() - interval '1 second'
                WHERE message_id = @message AND NOT queued
                """, db);
            crash.Parameters.AddWithValue("message", first.Id);
            Assert.Equal(1, await crash.ExecuteNonQueryAsync());
        }
        await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        await s.WaitForHandledAsync(5, TimeSpan.FromSeconds(90));
        Assert.Equal([1, 2, 3, 4, 5], log.Of("k"));
        var attempts = await s.AttemptsAsync(first.Id);
        Assert.Equal("lease_expired", attempts.OrderBy(a => a.StartedAt).First().ErrorKind);
    }

    [Fact]
    public async Task A_resent_message_goes_to_the_back_of_its_keys_queue()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (api, s, log) = await HeldFifoAsync(3, hold.Task);
        await using var _ = s;
        var published = new List<MessageOut>();
        for (var n = 1; n <= 3; n++)
        {
            published.Add(await api.PublishAsync(s.App.Id, Message(n, "k")));
        }
        await s.WaitForStatusAsync(published[0].Id, "succeeded", TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(() => log.Of("k").Contains(3), TimeSpan.FromSeconds(30), "message 3 is being sent");
        // Message 3 is in flight: the resent message 1 waits behind it.
        var resent = await api.ResendAsync(s.App.Id, published[0].Id, s.Endpoint.Id);
        Assert.Equal(("pending", (DateTimeOffset?)null), (resent.Status, resent.NextAttemptAt));
        hold.SetResult();
        await Eventually.HoldsAsync(() => log.Of("k").Count == 4, TimeSpan.FromSeconds(30), "message 1 is sent again");
        Assert.Equal([1, 2, 3, 1], log.Of("k"));
    }

    [Fact]
    public async Task Switching_a_fifo_endpoint_to_none_lets_its_queued_deliveries_go()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (api, s, log) = await HeldFifoAsync(1, hold.Task);
        await using var _ = s;
        for (var n = 1; n <= 10; n++)
        {
            await api.PublishAsync(s.App.Id, Message(n, "k"));
        }
        await Eventually.HoldsAsync(() => log.Of("k").Contains(1), TimeSpan.FromSeconds(30), "message 1 is being sent");
        await StopOrderingAsync(api, s);
        // Message 1 is still held by the receiver, and the other nine arrive anyway.
        await Eventually.HoldsAsync(() => log.Of("k").Count == 10, TimeSpan.FromSeconds(30), "the queued messages go once the endpoint is unordered");
        hold.SetResult();
        await s.WaitForHandledAsync(10, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_message_resent_after_its_endpoint_stopped_being_fifo_leaves_its_old_sequence()
    {
        var (s, log) = await FifoAsync();
        await using var _ = s;
        var first = await s.Api.PublishAsync(s.App.Id, Message(1, "k"));
        await s.Api.PublishAsync(s.App.Id, Message(2, "k"));
        await s.WaitForHandledAsync(2, TimeSpan.FromSeconds(30));
        await StopOrderingAsync(s.Api, s);

        // Resent unordered, it must not keep sequence 1 of key k: were the endpoint made fifo again, the key's new
        // sequence would start at 1 too, and the promotion could pick this delivery instead of the new head.
        await s.Api.ResendAsync(s.App.Id, first.Id, s.Endpoint.Id);
        await s.WaitForStatusAsync(first.Id, "succeeded", TimeSpan.FromSeconds(30));
        await using var db = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await db.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT ordering_seq IS NULL AND ordering_key IS NULL AND NOT queued FROM deliveries WHERE message_id = @id", db);
        query.Parameters.AddWithValue("id", first.Id);
        Assert.True((bool)(await query.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Ordering_and_ordering_key_are_validated_and_returned()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("ordering " + Guid.NewGuid().ToString("N")[..8]));
        var created = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hooks"));
        Assert.Equal(OrderingModes.None, (await api.GetEndpointAsync(app.Id, created.Id)).Ordering);
        var message = await api.PublishAsync(app.Id, Message(1, "customer-42"));
        Assert.Equal("customer-42", (await api.GetMessageAsync(app.Id, message.Id)).OrderingKey);

        using var http = (await fixture.Stack.ApiAsync()).Http();
        var endpoint = await http.PostAsync($"api/v1/apps/{app.Id}/endpoints",
            new StringContent("""{"url":"https://example.com/a","ordering":"lifo"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, endpoint.StatusCode);
        Assert.Contains("\"ordering\"", await endpoint.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var key = await http.PostAsync($"api/v1/apps/{app.Id}/messages",
            new StringContent($$"""{"eventType":"order.created","payload":{},"orderingKey":"{{new string('k', 129)}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, key.StatusCode);
        Assert.Contains("\"orderingKey\"", await key.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
