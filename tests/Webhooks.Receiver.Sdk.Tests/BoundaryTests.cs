using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>The edges of the SDK's rules: settings accepted and refused at their limits, expiries at their instant.</summary>
public sealed class OptionsBoundaryTests
{
    private static ValidateOptionsResult Validate(Action<WebhookReceiverOptions> change)
    {
        var options = new WebhookReceiverOptions();
        options.Secrets.Add(WebhookSecret.Generate().ToString());
        change(options);
        return WebhookReceiverOptionsValidator.Validate(options);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(300)]
    public void A_positive_tolerance_is_accepted(int seconds) => Assert.True(Validate(o => o.ToleranceSeconds = seconds).Succeeded);

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void A_tolerance_that_is_not_positive_is_refused_naming_the_key(int seconds) =>
        Assert.Contains("Webhooks:Receiver:ToleranceSeconds", Validate(o => o.ToleranceSeconds = seconds).FailureMessage, StringComparison.Ordinal);

    [Theory]
    [InlineData(1L, true)]
    [InlineData(1L << 30, true)]
    [InlineData(0L, false)]
    [InlineData((1L << 30) + 1, false)]
    public void The_body_limit_is_from_one_byte_to_one_gib(long bytes, bool accepted)
    {
        var result = Validate(o => o.MaxBodyBytes = bytes);
        Assert.Equal(accepted, result.Succeeded);
        if (!accepted)
        {
            Assert.Contains("Webhooks:Receiver:MaxBodyBytes", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(299, true)]
    [InlineData(199, false)]
    [InlineData(300, false)]
    public void The_unknown_event_type_answer_is_any_2xx(int status, bool accepted) =>
        Assert.Equal(accepted, Validate(o => o.UnknownEventTypeStatusCode = status).Succeeded);

    [Fact]
    public void No_secret_or_a_malformed_one_is_refused_naming_which()
    {
        var none = WebhookReceiverOptionsValidator.Validate(new WebhookReceiverOptions());
        Assert.Contains("Webhooks:Receiver:Secrets is empty", none.FailureMessage, StringComparison.Ordinal);
        var malformed = Validate(o => o.Secrets.Add("whsec_not base64!"));
        Assert.Contains("Webhooks:Receiver:Secrets:1 is malformed", malformed.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(24, true)]
    [InlineData(64, true)]
    [InlineData(23, false)]
    [InlineData(65, false)]
    public void A_secret_is_24_to_64_bytes(int bytes, bool valid)
    {
        var text = "whsec_" + Convert.ToBase64String(new byte[bytes]);
        Assert.Equal(valid, WebhookSecret.TryParse(text, out _, out var error));
        Assert.Equal(valid, error is null);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(24 * 30, true)]
    [InlineData(0.999, false)]
    [InlineData(24 * 30 + 0.001, false)]
    public void The_in_memory_retention_is_from_an_hour_to_30_days(double hours, bool accepted)
    {
        var result = new InMemoryReplayStoreOptionsValidator().Validate(null, new InMemoryReplayStoreOptions { HandledRetention = TimeSpan.FromHours(hours) });
        Assert.Equal(accepted, result.Succeeded);
        if (!accepted)
        {
            Assert.Contains("InMemoryReplayStoreOptions.HandledRetention", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(0, false)]
    public void The_in_memory_store_keeps_at_least_one_id(int ids, bool accepted) =>
        Assert.Equal(accepted, new InMemoryReplayStoreOptionsValidator().Validate(null, new InMemoryReplayStoreOptions { MaxHandledIds = ids }).Succeeded);

    [Fact]
    public void A_handler_needs_an_event_type() =>
        Assert.ThrowsAny<ArgumentException>(() => new ServiceCollection().AddWebhookReceiver().AddHandler<OrderCreated, FlakyHandler>(" "));
}

public sealed class InMemoryReplayStoreBoundaryTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(11);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));

    private InMemoryReplayStore Store() => new(_clock, Options.Create(new InMemoryReplayStoreOptions()));

    [Fact]
    public async Task A_claim_in_progress_lapses_exactly_at_its_timeout()
    {
        var store = Store();
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_a", Window, default));
        _clock.Advance(InMemoryReplayStore.ClaimTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(ReplayClaim.InProgress, await store.TryClaimAsync("msg_a", Window, default));
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_a", Window, default));
    }

    [Fact]
    public async Task An_id_handled_twice_is_remembered_until_its_later_expiry()
    {
        // The first claim lapsed while its handler ran; a retry claimed and handled the id; then the first finished too.
        var store = Store();
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_twice", Window, default));
        _clock.Advance(InMemoryReplayStore.ClaimTimeout);
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_twice", Window, default));
        await store.CompleteAsync("msg_twice", Window, default);
        _clock.Advance(TimeSpan.FromHours(1));
        await store.CompleteAsync("msg_twice", Window, default);

        // Past the first completion's expiry (72 h), before the second's.
        _clock.Advance(TimeSpan.FromHours(71.5));
        Assert.Equal(ReplayClaim.AlreadyHandled, await store.TryClaimAsync("msg_twice", Window, default));
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(ReplayClaim.Claimed, await store.TryClaimAsync("msg_twice", Window, default));
    }
}

public sealed class ReceiverEdgeTests
{
    [Fact]
    public async Task The_replay_window_is_twice_the_tolerance_and_a_minute()
    {
        var secret = WebhookSecret.Generate();
        var (app, http) = await ReceiverHost.StartAsync(secret, new FlakyHandler.State(), r => r.UseReplayStore<RecordingReplayStore>(),
            options: o => o.ToleranceSeconds = 100);
        await using (app)
        using (http)
        {
            using var response = await ReceiverHost.PostSignedAsync(http, secret, ReceiverHost.OrderBody(1), "msg_window");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            var store = (RecordingReplayStore)app.Services.GetRequiredService<IWebhookReplayStore>();
            Assert.Equal([TimeSpan.FromSeconds(260), TimeSpan.FromSeconds(260)], store.Retentions);
        }
    }

    [Theory]
    [InlineData("""{"type":"order.created","timestamp":"2026-01-01T00:00:00Z","data":null}""", "malformed data", "null; OrderCreated was expected")]
    [InlineData("""{"type":7,"timestamp":"2026-01-01T00:00:00Z","data":{}}""", "malformed body", "a string 'type' and a 'data'")]
    [InlineData("""{"type":"order.created","timestamp":"2026-01-01T00:00:00Z"}""", "malformed body", "a string 'type' and a 'data'")]
    [InlineData("""[1, 2]""", "malformed body", "a string 'type' and a 'data'")]
    public async Task A_signed_body_that_is_not_a_webhook_is_refused_saying_why(string body, string title, string detail)
    {
        var secret = WebhookSecret.Generate();
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(secret, state);
        await using (app)
        using (http)
        {
            using var response = await ReceiverHost.PostSignedAsync(http, secret, Encoding.UTF8.GetBytes(body), "msg_" + Guid.NewGuid().ToString("N"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(title, problem.RootElement.GetProperty("title").GetString());
            Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, state.Calls);
        }
    }

    [Fact]
    public async Task A_body_leaves_nothing_of_itself_in_the_pooled_buffer()
    {
        // Webhook bodies may carry personal data; the buffer goes back to a pool shared with the rest of the process.
        var bytes = Enumerable.Repeat((byte)0xAB, 100).ToArray();
        var body = await RequestBody.ReadAsync(new MemoryStream(bytes), 1000, default);
        Assert.True(MemoryMarshal.TryGetArray(body!.Memory, out var segment));
        Assert.Equal(bytes, body.Span.ToArray());
        body.Dispose();
        Assert.All(segment.Array!.Take(100), b => Assert.Equal(0, b));
        // Disposing again is harmless (nothing is returned to the pool twice).
        body.Dispose();
    }

    [Theory]
    [InlineData(8192, 8192, true)]
    [InlineData(8192, 8193, false)]
    [InlineData(5000, 5000, true)]
    [InlineData(5000, 5001, false)]
    public async Task A_body_of_the_limit_is_read_whole_and_one_byte_more_is_refused(long max, int size, bool read)
    {
        var bytes = Enumerable.Range(0, size).Select(i => (byte)(i % 251)).ToArray();
        using var body = await RequestBody.ReadAsync(new MemoryStream(bytes), max, default);
        if (read)
        {
            Assert.Equal(bytes, body!.Span.ToArray());
        }
        else
        {
            Assert.Null(body);
        }
    }

    [Fact]
    public void Two_handlers_for_one_event_type_are_refused_naming_it()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddSingleton(new FlakyHandler.State());
        services.AddWebhookReceiver(o => o.Secrets.Add(WebhookSecret.Generate().ToString()))
            .AddHandler<OrderCreated, FlakyHandler>("order.created")
            .AddHandler<OrderCreated, OtherOrderHandler>("order.created");
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<WebhookReceiver>());
        Assert.Contains("'order.created': FlakyHandler and OtherOrderHandler", error.Message, StringComparison.Ordinal);
    }
}

internal sealed class OtherOrderHandler : IWebhookHandler<OrderCreated>
{
    public Task HandleAsync(OrderCreated data, WebhookContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A replay store that claims every id and remembers how long it was asked to keep each.</summary>
internal sealed class RecordingReplayStore : IWebhookReplayStore
{
    private readonly ConcurrentQueue<TimeSpan> _retentions = new();

    public TimeSpan[] Retentions => _retentions.ToArray();

    public ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        _retentions.Enqueue(retention);
        return ValueTask.FromResult(ReplayClaim.Claimed);
    }

    public ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        _retentions.Enqueue(retention);
        return ValueTask.CompletedTask;
    }

    public ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
