using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Bench;

/// <summary>A Kestrel receiver built with the SDK (full verification), noting when each webhook id first arrived.</summary>
public sealed class BenchReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BenchReceiver(WebApplication app, Uri url, Arrivals arrivals)
    {
        _app = app;
        Url = url;
        Arrivals = arrivals;
    }

    public Uri Url { get; }
    public Arrivals Arrivals { get; }

    public static async Task<BenchReceiver> StartAsync(string secret)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var arrivals = new Arrivals();
        builder.Services.AddSingleton(arrivals);
        builder.Services.AddWebhookReceiver(o => o.Secrets.Add(secret))
            .UseReplayStore<NoReplayStore>()
            .AddHandler<JsonElement, ArrivalHandler>("bench");
        var app = builder.Build();
        app.MapWebhookReceiver("/webhooks/{endpoint}");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BenchReceiver(app, new Uri(address.TrimEnd('/') + "/"), arrivals);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed class Arrivals
{
    public ConcurrentDictionary<string, long> FirstSeen { get; } = new();
    private long _count;
    public long Count => Interlocked.Read(ref _count);

    public void Record(string key)
    {
        Interlocked.Increment(ref _count);
        FirstSeen.TryAdd(key, Stopwatch.GetTimestamp());
    }

    public void Clear()
    {
        FirstSeen.Clear();
        Interlocked.Exchange(ref _count, 0);
    }
}

internal sealed class ArrivalHandler(Arrivals arrivals) : IWebhookHandler<JsonElement>
{
    public Task HandleAsync(JsonElement data, WebhookContext context, CancellationToken cancellationToken)
    {
        arrivals.Record(context.Id + " " + context.HttpContext.Request.RouteValues["endpoint"]);
        return Task.CompletedTask;
    }
}

/// <summary>Fan-out sends one id to many endpoints of one receiver: de-duplication is not what is measured here.</summary>
internal sealed class NoReplayStore : IWebhookReplayStore
{
    public ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken) => ValueTask.FromResult(ReplayClaim.Claimed);
    public ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    public ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
