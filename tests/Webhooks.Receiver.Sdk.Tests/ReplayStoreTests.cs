using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Webhooks.Receiver.Sdk.Redis;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>What the in-memory store guarantees, on a clock the test controls.</summary>
public sealed class InMemoryReplayStoreTests
{
    private static readonly TimeSpan ReplayWindow = TimeSpan.FromSeconds(2 * 300 + 60);
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private InMemoryReplayStore Store(Action<InMemoryReplayStoreOptions>? configure = null)
    {
        var options = new InMemoryReplayStoreOptions();
        configure?.Invoke(options);
        return new InMemoryReplayStore(_clock, Options.Create(options));
    }

    private static async Task HandleAsync(InMemoryReplayStore store, string id)
    {
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync(id, ReplayWindow, default));
        await store.CompleteAsync(id, ReplayWindow, default);
    }

    [Fact]
    public void Handled_ids_are_kept_by_default_longer_than_the_engine_can_retry()
    {
        // The engine's default schedule with every retry stretched by the longest Retry-After it honours: 54 h.
        var horizon = Webhooks.Core.Delivery.RetrySchedule.Default.LongestSpan(Webhooks.Core.Delivery.DeliveryLifecycle.MaxRetryAfter);
        Assert.Equal(TimeSpan.FromHours(54), horizon);
        Assert.True(new InMemoryReplayStoreOptions().HandledRetention > horizon, "the in-memory store forgets before the engine's last retry");
        Assert.True(new RedisReplayStoreOptions().HandledRetention > horizon, "the Redis store forgets before the engine's last retry");
    }

    [Fact]
    public async Task A_handled_id_is_remembered_for_72_hours_by_default_so_a_late_retry_is_not_handled_again()
    {
        var store = Store();
        await HandleAsync(store, "msg_late");

        // The engine's last retry comes at most 54 hours after the first attempt.
        _clock.Advance(TimeSpan.FromHours(55));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_late", ReplayWindow, default));
        _clock.Advance(TimeSpan.FromHours(17) - TimeSpan.FromSeconds(1));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_late", ReplayWindow, default));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_late", ReplayWindow, default));
    }

    [Fact]
    public async Task A_handled_id_is_never_forgotten_before_the_replay_window_even_with_a_shorter_retention()
    {
        var store = Store(o => o.HandledRetention = TimeSpan.FromHours(1));
        var longWindow = TimeSpan.FromHours(2);
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_window", longWindow, default));
        await store.CompleteAsync("msg_window", longWindow, default);

        _clock.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_window", longWindow, default));
    }

    [Fact]
    public async Task Past_its_bound_the_store_forgets_the_oldest_ids_first()
    {
        var store = Store(o => o.MaxHandledIds = 3);
        foreach (var id in new[] { "msg_1", "msg_2", "msg_3", "msg_4" })
        {
            await HandleAsync(store, id);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_1", ReplayWindow, default));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_2", ReplayWindow, default));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_4", ReplayWindow, default));
    }

    [Fact]
    public async Task A_claim_whose_handler_never_finishes_expires_so_it_cannot_block_retries_for_ever()
    {
        var store = Store();
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_hung", ReplayWindow, default));
        Assert.Equal(ReplayClaim.InProgress, await store.TryClaimAsync("msg_hung", ReplayWindow, default));
        _clock.Advance(InMemoryReplayStore.ClaimTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_hung", ReplayWindow, default));
    }

    [Fact]
    public async Task A_released_claim_is_claimed_again_by_the_retry()
    {
        var store = Store();
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_failed", ReplayWindow, default));
        await store.ReleaseAsync("msg_failed", default);
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_failed", ReplayWindow, default));
    }
}

/// <summary>Settings out of range stop the app at start, naming the setting.</summary>
public sealed class ReplayConfigurationTests
{
    private static async Task<OptionsValidationException> StartFailsAsync(Action<WebhookReceiverBuilder>? configure = null, Action<WebhookReceiverOptions>? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Webhooks:Receiver:Secrets:0"] = WebhookSecret.Generate().ToString();
        var receiver = builder.Services.AddWebhookReceiver(options);
        configure?.Invoke(receiver);
        await using var app = builder.Build();
        return await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
    }

    [Fact]
    public async Task A_redis_retention_shorter_than_an_hour_stops_the_app_at_start()
    {
        // Minutes typed where hours were meant would forget handled ids long before the sender's retries end.
        var error = await StartFailsAsync(r => r.UseRedisReplayStore("127.0.0.1:1,abortConnect=false", o => o.HandledRetention = TimeSpan.FromMinutes(48)));
        Assert.Contains("RedisReplayStoreOptions.HandledRetention", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_zero_redis_claim_timeout_stops_the_app_at_start()
    {
        var error = await StartFailsAsync(r => r.UseRedisReplayStore("127.0.0.1:1,abortConnect=false", o => o.ClaimTimeout = TimeSpan.Zero));
        Assert.Contains("RedisReplayStoreOptions.ClaimTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_in_memory_store_without_room_stops_the_app_at_start()
    {
        var error = await StartFailsAsync(r => r.UseInMemoryReplayStore(o => o.MaxHandledIds = 0));
        Assert.Contains("InMemoryReplayStoreOptions.MaxHandledIds", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(404)]
    [InlineData(410)]
    [InlineData(500)]
    public async Task An_unknown_event_type_answer_other_than_2xx_stops_the_app_at_start(int status)
    {
        var error = await StartFailsAsync(options: o => o.UnknownEventTypeStatusCode = status);
        Assert.Contains("Webhooks:Receiver:UnknownEventTypeStatusCode", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The Redis store's expiries, read from the suite's real Redis.</summary>
[Collection(StackFixture.Collection)]
public sealed class RedisReplayStoreTests(StackFixture fixture)
{
    private static readonly byte[] Body = ReceiverHost.OrderBody(7);

    [Fact]
    public async Task A_handled_id_is_kept_for_the_configured_retention()
    {
        var secret = WebhookSecret.Generate();
        var prefix = $"test:{Guid.NewGuid():N}:";
        var (app, http) = await ReceiverHost.StartAsync(secret, new FlakyHandler.State(),
            r => r.UseRedisReplayStore(fixture.Stack.RedisConnectionString, o => (o.KeyPrefix, o.HandledRetention) = (prefix, TimeSpan.FromHours(72))));
        await using (app)
        using (http)
        {
            using var handled = await ReceiverHost.PostSignedAsync(http, secret, Body, "msg_kept");
            Assert.Equal(HttpStatusCode.NoContent, handled.StatusCode);

            await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Stack.RedisConnectionString);
            var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(prefix + "msg_kept");
            Assert.InRange(ttl!.Value, TimeSpan.FromHours(72) - TimeSpan.FromMinutes(1), TimeSpan.FromHours(72));
        }
    }

    [Fact]
    public async Task An_in_progress_claim_is_kept_only_for_the_claim_timeout()
    {
        var secret = WebhookSecret.Generate();
        var prefix = $"test:{Guid.NewGuid():N}:";
        var release = new TaskCompletionSource();
        var state = new FlakyHandler.State { Hold = ct => release.Task.WaitAsync(ct) };
        var (app, http) = await ReceiverHost.StartAsync(secret, state, r => r.UseRedisReplayStore(fixture.Stack.RedisConnectionString, o => o.KeyPrefix = prefix));
        await using (app)
        using (http)
        {
            var handling = ReceiverHost.PostSignedAsync(http, secret, Body, "msg_claimed");
            await state.Entered.Task.WaitAsync(RawRequest.Patience);

            await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Stack.RedisConnectionString);
            var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(prefix + "msg_claimed");
            Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));

            release.SetResult();
            using var handled = await handling;
            Assert.Equal(HttpStatusCode.NoContent, handled.StatusCode);
            ttl = await redis.GetDatabase().KeyTimeToLiveAsync(prefix + "msg_claimed");
            Assert.InRange(ttl!.Value, TimeSpan.FromHours(71), TimeSpan.FromHours(72));
        }
    }

    [Fact]
    public async Task A_claim_left_by_a_crashed_instance_stops_blocking_the_retries_after_the_claim_timeout()
    {
        var secret = WebhookSecret.Generate();
        var prefix = $"test:{Guid.NewGuid():N}:";
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(secret, state,
            r => r.UseRedisReplayStore(fixture.Stack.RedisConnectionString, o => (o.KeyPrefix, o.ClaimTimeout) = (prefix, TimeSpan.FromSeconds(5))));
        await using (app)
        using (http)
        {
            // The first instance claimed the id and died: its claim has the timeout as expiry, and nothing else. (5 s, so
            // the first request below is surely answered while it holds, even on a loaded machine.)
            await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Stack.RedisConnectionString);
            await redis.GetDatabase().StringSetAsync(prefix + "msg_orphaned", "in-progress", TimeSpan.FromSeconds(5));

            using var blocked = await ReceiverHost.PostSignedAsync(http, secret, Body, "msg_orphaned");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, blocked.StatusCode);

            // The sender retries; once the claim has expired, the retry is handled.
            var deadline = DateTime.UtcNow + RawRequest.Patience;
            HttpStatusCode status;
            do
            {
                await Task.Delay(200);
                using var retry = await ReceiverHost.PostSignedAsync(http, secret, Body, "msg_orphaned");
                status = retry.StatusCode;
            }
            while (status == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline);
            Assert.Equal(HttpStatusCode.NoContent, status);
            Assert.Equal(1, state.Calls);
        }
    }
}
