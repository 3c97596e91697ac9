using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Webhooks.Receiver.Sdk;

/// <summary>Registers the typed handlers and the replay store of a webhook receiver.</summary>
public sealed class WebhookReceiverBuilder
{
    internal WebhookReceiverBuilder(IServiceCollection services) => Services = services;

    /// <summary>The application's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Calls <typeparamref name="THandler"/> for webhooks whose <c>type</c> is <paramref name="eventType"/>,
    /// with the body's <c>data</c> deserialized into <typeparamref name="TEvent"/> (unknown fields ignored).
    /// </summary>
    public WebhookReceiverBuilder AddHandler<TEvent, THandler>(string eventType)
        where THandler : class, IWebhookHandler<TEvent>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventType);
        Services.TryAddScoped<THandler>();
        Services.AddSingleton(new WebhookHandlerRegistration(eventType, typeof(THandler), InvokeAsync<TEvent, THandler>));
        return this;
    }

    /// <summary>Replaces the in-memory replay store, e.g. with a distributed one shared by several instances.</summary>
    public WebhookReceiverBuilder UseReplayStore<TStore>()
        where TStore : class, IWebhookReplayStore
    {
        Services.Replace(ServiceDescriptor.Singleton<IWebhookReplayStore, TStore>());
        return this;
    }

    private static Task InvokeAsync<TEvent, THandler>(
        IServiceProvider services, JsonElement data, WebhookContext context, JsonSerializerOptions json, CancellationToken cancellationToken)
        where THandler : class, IWebhookHandler<TEvent>
    {
        var value = data.Deserialize<TEvent>(json)
            ?? throw new JsonException($"The webhook's data is null; {typeof(TEvent).Name} was expected.");
        var handler = services.GetRequiredService<THandler>();
        return handler.HandleAsync(value, context, cancellationToken);
    }
}

internal delegate Task WebhookHandlerInvoker(
    IServiceProvider services, JsonElement data, WebhookContext context, JsonSerializerOptions json, CancellationToken cancellationToken);

internal sealed record WebhookHandlerRegistration(string EventType, Type HandlerType, WebhookHandlerInvoker Invoke);
