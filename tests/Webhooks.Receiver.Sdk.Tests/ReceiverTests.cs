using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk.Tests;

public record OrderCreated(int N, string? Note);

public sealed class FlakyHandler(FlakyHandler.State state) : IWebhookHandler<OrderCreated>
{
    public sealed class State
    {
        public int FailuresLeft;
        public int Calls;

        /// <summary>What a failing call throws.</summary>
        public Func<Exception> Failure { get; set; } = () => new InvalidOperationException("the database is down");

        /// <summary>Awaited by every call before it fails or succeeds: holds a webhook in progress.</summary>
        public Func<CancellationToken, Task>? Hold { get; set; }

        /// <summary>Completes when a call has started.</summary>
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(OrderCreated Data, WebhookContext Context)> Handled { get; } = [];
    }

    public async Task HandleAsync(OrderCreated data, WebhookContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref state.Calls);
        state.Entered.TrySetResult();
        if (state.Hold is { } hold)
        {
            await hold(cancellationToken);
        }
        if (Interlocked.Decrement(ref state.FailuresLeft) >= 0)
        {
            throw state.Failure();
        }
        lock (state.Handled)
        {
            state.Handled.Add((data, context));
        }
    }
}

/// <summary>The SDK's answers, through a real Kestrel receiver on loopback.</summary>
public sealed class ReceiverTests : IAsyncLifetime
{
    private readonly WebhookSecret _secret = WebhookSecret.Generate();
    private readonly FlakyHandler.State _state = new();
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync() =>
        (_app, _http) = await ReceiverHost.StartAsync(_secret, _state, options: o => o.MaxBodyBytes = 1024);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    private static string Body(int n, string type = "order.created") =>
        "{\"type\":\"" + type + "\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":" + n + ",\"note\":\"hi\",\"unknownField\":true}}";

    private Task<HttpResponseMessage> SendAsync(string body, string? id = null, long? timestamp = null, string? signature = null,
        bool svixHeaders = false, WebhookSecret? secret = null)
    {
        id ??= "msg_" + Guid.NewGuid().ToString("N");
        var ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var bytes = Encoding.UTF8.GetBytes(body);
        signature ??= SignatureScheme.Sign(secret ?? _secret, id, ts, bytes);
        return ReceiverHost.PostAsync(_http, bytes, id, ts, signature, svixHeaders ? "svix" : "webhook");
    }

    [Fact]
    public async Task Verified_webhook_reaches_its_typed_handler_with_context()
    {
        var response = await SendAsync(Body(7), id: "msg_one");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var (data, context) = Assert.Single(_state.Handled);
        Assert.Equal(new OrderCreated(7, "hi"), data);
        Assert.Equal("msg_one", context.Id);
        Assert.Equal("order.created", context.EventType);
    }

    [Fact]
    public async Task Svix_header_aliases_are_accepted()
    {
        var response = await SendAsync(Body(1), svixHeaders: true);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Missing_signature_answers_401()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new StringContent(Body(1)) };
        var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_state.Handled);
    }

    [Fact]
    public async Task Signature_from_another_secret_answers_401()
    {
        var response = await SendAsync(Body(1), secret: WebhookSecret.Generate());
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_state.Handled);
    }

    [Fact]
    public async Task Stale_timestamp_answers_400()
    {
        var response = await SendAsync(Body(1), timestamp: DateTimeOffset.UtcNow.AddMinutes(-6).ToUnixTimeSeconds());
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_state.Handled);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"data\":{}}")]
    public async Task Malformed_body_that_is_correctly_signed_answers_400(string body)
    {
        var response = await SendAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Body_over_the_limit_answers_413()
    {
        var response = await SendAsync(Body(1).Replace("hi", new string('x', 2000)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(_state.Handled);
    }

    [Fact]
    public async Task Replayed_webhook_is_handled_once_and_answered_2xx()
    {
        var first = await SendAsync(Body(3), id: "msg_replayed");
        var second = await SendAsync(Body(3), id: "msg_replayed");
        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Single(_state.Handled);
    }

    [Fact]
    public async Task Handler_failure_answers_500_and_the_retry_is_handled()
    {
        _state.FailuresLeft = 1;
        var first = await SendAsync(Body(4), id: "msg_retry");
        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Empty(_state.Handled);
        var retry = await SendAsync(Body(4), id: "msg_retry");
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        Assert.Single(_state.Handled);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("cancelled")]
    [InlineData("timeout")]
    public async Task Whatever_the_handler_throws_answers_500_and_the_retry_runs_the_handler_again(string thrown)
    {
        _state.FailuresLeft = 1;
        _state.Failure = thrown switch
        {
            // The handler's own parsing, its own cancelled work, its own HTTP call timing out: not the sender's fault.
            "json" => () => new System.Text.Json.JsonException("the handler's own parse failed"),
            "cancelled" => () => new OperationCanceledException("the handler's own token"),
            _ => () => new TaskCanceledException("a downstream call timed out"),
        };
        var first = await SendAsync(Body(8), id: "msg_" + thrown);
        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        var retry = await SendAsync(Body(8), id: "msg_" + thrown);
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        Assert.Equal(2, _state.Calls);
        Assert.Single(_state.Handled);
    }

    [Fact]
    public async Task Unknown_event_type_is_acknowledged_without_a_handler()
    {
        var response = await SendAsync(Body(1, type: "invoice.paid"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(_state.Handled);
    }

    [Theory]
    [InlineData("""{"n":"seven"}""")]
    [InlineData("null")]
    public async Task Data_that_does_not_fit_the_handler_type_answers_400_without_calling_the_handler(string data)
    {
        var response = await SendAsync("""{"type":"order.created","timestamp":"2026-01-01T00:00:00Z","data":""" + data + "}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, _state.Calls);
    }

    [Fact]
    public async Task A_body_larger_than_the_first_buffer_is_read_whole_and_verified()
    {
        // MaxBodyBytes is 1024 here and the buffer starts at 4 KiB: this one runs on its own host with room to grow.
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(_secret, state);
        await using (app)
        using (http)
        {
            var note = string.Concat(Enumerable.Range(0, 20_000).Select(i => (char)('a' + i % 26)));
            var body = Encoding.UTF8.GetBytes(Body(9).Replace("\"hi\"", "\"" + note + "\""));
            Assert.True(body.Length > 4 * RequestBody.InitialSize);
            using var response = await ReceiverHost.PostSignedAsync(http, _secret, body, "msg_large");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(note, Assert.Single(state.Handled).Data.Note);
        }
    }

    [Fact]
    public async Task Data_a_handler_keeps_outlives_the_request_whose_pooled_buffer_is_reused()
    {
        var kept = new System.Collections.Concurrent.ConcurrentQueue<System.Text.Json.JsonElement>();
        var (app, http) = await ReceiverHost.StartAsync(_secret, _state, r =>
        {
            r.Services.AddSingleton(kept);
            r.AddHandler<System.Text.Json.JsonElement, KeepingHandler>("order.kept");
        });
        await using (app)
        using (http)
        {
            foreach (var n in new[] { 11, 22 })
            {
                using var response = await ReceiverHost.PostSignedAsync(http, _secret, ReceiverHost.OrderBody(n, type: "order.kept"), "msg_kept_" + n);
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            }
        }
        // Both bodies went through pooled memory that was cleared and handed back: what the handlers kept is a copy.
        Assert.Equal(new[] { 11, 22 }, kept.Select(d => d.GetProperty("n").GetInt32()));
    }

    private sealed class KeepingHandler(System.Collections.Concurrent.ConcurrentQueue<System.Text.Json.JsonElement> kept) : IWebhookHandler<System.Text.Json.JsonElement>
    {
        public Task HandleAsync(System.Text.Json.JsonElement data, WebhookContext context, CancellationToken cancellationToken)
        {
            kept.Enqueue(data);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Malformed_secret_in_configuration_fails_at_start_naming_the_setting()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Webhooks:Receiver:Secrets:0"] = _secret.ToString();
        builder.Configuration["Webhooks:Receiver:Secrets:1"] = "whsec_not-base64!";
        builder.Services.AddWebhookReceiver();
        await using var app = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("Webhooks:Receiver:Secrets:1", error.Message, StringComparison.Ordinal);
    }
}
