using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Testing;

/// <summary>What a test receiver's handler saw.</summary>
public sealed record ReceivedWebhook(string Id, string EventType, JsonElement Data, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);

/// <summary>A raw request as it reached the test receiver, before verification.</summary>
public sealed record ReceivedRequest(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset ReceivedAt);

/// <summary>
/// A real Kestrel receiver on loopback, built with the receiver SDK. Tests read what arrived, and can make
/// it answer anything (a status, a delay) through <see cref="Respond"/> before the SDK sees the request.
/// </summary>
public sealed class TestReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestReceiver(WebApplication app, Uri url, WebhookRecorder recorder)
    {
        _app = app;
        Url = url;
        Recorder = recorder;
    }

    public Uri Url { get; }
    public Uri WebhookUrl => new(Url, "webhooks");
    public WebhookRecorder Recorder { get; }
    public ConcurrentQueue<ReceivedWebhook> Handled => Recorder.Handled;
    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>When set and returning a status, the receiver answers it without verifying or handling.</summary>
    public Func<ReceivedRequest, Task<int?>>? Respond { get; set; }

    /// <summary>Sent as <c>Retry-After</c> with a 429 or 503 answered through <see cref="Respond"/>.</summary>
    public int? RetryAfterSeconds { get; set; }

    /// <summary>The body of answers given through <see cref="Respond"/>.</summary>
    public string? ResponseBody { get; set; }

    public static Task<TestReceiver> StartAsync(string secret, params string[] eventTypes) => StartAsync(secret, _ => { }, eventTypes);

    /// <summary>A receiver whose SDK settings <paramref name="configure"/> adjusts (its secret is set already).</summary>
    public static async Task<TestReceiver> StartAsync(string secret, Action<WebhookReceiverOptions> configure, params string[] eventTypes)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var recorder = new WebhookRecorder();
        builder.Services.AddSingleton(recorder);
        var receiver = builder.Services.AddWebhookReceiver(o =>
        {
            o.Secrets.Add(secret);
            configure(o);
        });
        foreach (var eventType in eventTypes.Length == 0 ? ["order.created"] : eventTypes)
        {
            receiver.AddHandler<JsonElement, RecordingHandler>(eventType);
        }
        var app = builder.Build();
        TestReceiver? self = null;
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            using var copy = new MemoryStream();
            await context.Request.Body.CopyToAsync(copy);
            context.Request.Body.Position = 0;
            var request = new ReceivedRequest(
                context.Request.Path,
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                copy.ToArray(),
                DateTimeOffset.UtcNow);
            self!.Requests.Enqueue(request);
            if (self.Respond is { } respond && await respond(request) is { } status)
            {
                context.Response.StatusCode = status;
                if (status is 429 or 503 && self.RetryAfterSeconds is { } seconds)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                if (status is >= 300 and < 400)
                {
                    context.Response.Headers.Location = new Uri(self.Url, "elsewhere").ToString();
                }
                if (self.ResponseBody is { } body)
                {
                    await context.Response.WriteAsync(body);
                }
                return;
            }
            await next(context);
        });
        app.MapWebhookReceiver("/webhooks");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new TestReceiver(app, new Uri(address.TrimEnd('/') + "/"), recorder);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed class WebhookRecorder
{
    public ConcurrentQueue<ReceivedWebhook> Handled { get; } = new();
}

internal sealed class RecordingHandler(WebhookRecorder recorder) : IWebhookHandler<JsonElement>
{
    public Task HandleAsync(JsonElement data, WebhookContext context, CancellationToken cancellationToken)
    {
        recorder.Handled.Enqueue(new ReceivedWebhook(context.Id, context.EventType, data.Clone(), context.Timestamp, DateTimeOffset.UtcNow));
        return Task.CompletedTask;
    }
}

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes (then fails with <paramref name="what"/>).</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Within {timeout.TotalSeconds} s: {what}. Service logs: {TestStack.LogPath}");
            }
            await Task.Delay(50);
        }
    }

    public static Task HoldsAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        HoldsAsync(() => Task.FromResult(condition()), timeout, what);
}
