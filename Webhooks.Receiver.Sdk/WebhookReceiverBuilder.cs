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
        Services.AddSingleton(new WebhookHandlerRegistration(eventType, typeof(THandler), Bind<TEvent, THandler>));
        return this;
    }

    /// <summary>Replaces the in-memory replay store, e.g. with a distributed one shared by several instances.</summary>
    public WebhookReceiverBuilder UseReplayStore<TStore>()
        where TStore : class, IWebhookReplayStore
    {
        Services.Replace(ServiceDescriptor.Singleton<IWebhookReplayStore, TStore>());
        return this;
    }

    /// <summary>
    /// Keeps replay protection in this process's memory (the default store), with the given settings.
    /// See <see cref="InMemoryReplayStore"/> for what it guarantees.
    /// </summary>
    public WebhookReceiverBuilder UseInMemoryReplayStore(Action<InMemoryReplayStoreOptions>? configure = null)
    {
        if (configure is not null)
        {
            Services.Configure(configure);
        }
        return UseReplayStore<InMemoryReplayStore>();
    }

    // Deserializing is the SDK's step, apart from the handler's: a JsonException here means the sender's data
    // does not fit (answered 400), while one thrown by the handler's own code is the handler failing (500).
    private static WebhookHandlerCall Bind<TEvent, THandler>(JsonElement data, JsonSerializerOptions json)
        where THandler : class, IWebhookHandler<TEvent>
    {
        var value = data.Deserialize<TEvent>(json)
            ?? throw new JsonException($"The webhook's data is null; {typeof(TEvent).Name} was expected.");
        return (services, context, cancellationToken) =>
            services.GetRequiredService<THandler>().HandleAsync(value, context, cancellationToken);
    }
}
