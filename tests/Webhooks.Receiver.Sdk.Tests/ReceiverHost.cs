using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>A real Kestrel receiver on loopback with the SDK and <see cref="FlakyHandler"/>.</summary>
internal static class ReceiverHost
{
    public static async Task<(WebApplication App, HttpClient Http)> StartAsync(
        WebhookSecret secret, FlakyHandler.State state, Action<WebhookReceiverBuilder>? configure = null, bool middleware = false,
        Action<WebhookReceiverOptions>? options = null, Action<WebApplication>? beforeReceiver = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(state);
        builder.Configuration["Webhooks:Receiver:Secrets:0"] = secret.ToString();
        var receiver = builder.Services.AddWebhookReceiver(options).AddHandler<OrderCreated, FlakyHandler>("order.created");
        configure?.Invoke(receiver);
        var app = builder.Build();
        beforeReceiver?.Invoke(app);
        if (middleware)
        {
            app.UseWebhookReceiver("/webhooks");
        }
        else
        {
            app.MapWebhookReceiver("/webhooks");
        }
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    /// <param name="headerPrefix"><c>webhook</c> (Standard Webhooks) or <c>svix</c> (the aliases).</param>
    public static Task<HttpResponseMessage> PostAsync(
        HttpClient http, byte[] body, string id, long timestamp, string signature, string headerPrefix = "webhook", CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(headerPrefix + "-id", id);
        request.Headers.Add(headerPrefix + "-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(headerPrefix + "-signature", signature);
        return http.SendAsync(request, cancellationToken);
    }

    public static Task<HttpResponseMessage> PostSignedAsync(HttpClient http, WebhookSecret secret, byte[] body, string id, CancellationToken cancellationToken = default)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return PostAsync(http, body, id, timestamp, SignatureScheme.Sign(secret, id, timestamp, body), cancellationToken: cancellationToken);
    }

    /// <summary>A body of the <c>order.created</c> type the host handles (or of another <paramref name="type"/>).</summary>
    public static byte[] OrderBody(int n, string type = "order.created") =>
        System.Text.Encoding.UTF8.GetBytes("{\"type\":\"" + type + "\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":" + n + "}}");
}
