using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Webhooks.Receiver.Sdk.Redis;

/// <summary>Registers the Redis replay store.</summary>
public static class RedisReplayStoreExtensions
{
    /// <summary>
    /// Keeps replay protection in Redis, shared by every instance. Uses the registered
    /// <see cref="IConnectionMultiplexer"/>, or connects to <paramref name="configuration"/> when given.
    /// Settings out of range stop the app at start, naming the setting.
    /// </summary>
    public static WebhookReceiverBuilder UseRedisReplayStore(this WebhookReceiverBuilder builder, string? configuration = null, Action<RedisReplayStoreOptions>? configure = null)
    {
        var options = builder.Services.AddOptions<RedisReplayStoreOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisReplayStoreOptions>, RedisReplayStoreOptionsValidator>());
        if (configuration is not null)
        {
            builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(configuration));
        }
        return builder.UseReplayStore<RedisReplayStore>();
    }
}
