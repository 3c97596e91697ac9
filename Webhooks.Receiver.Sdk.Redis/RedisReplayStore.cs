using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace Webhooks.Receiver.Sdk.Redis;

/// <summary>
/// Replay protection shared by every instance of a receiver. A claim is one atomic <c>SET NX</c> with an expiry
/// (never a read followed by a write), so two instances receiving the same webhook at once cannot both handle it.
/// </summary>
public sealed class RedisReplayStore(IConnectionMultiplexer redis, RedisReplayStoreOptions options) : IWebhookReplayStore
{
    private const string InProgress = "in-progress";
    private const string Handled = "handled";

    // Deletes a claim only while it is still an in-progress one: a handled mark is never released.
    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

    private RedisKey Key(string id) => options.KeyPrefix + id;

    /// <inheritdoc />
    public async ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        if (await db.StringSetAsync(Key(id), InProgress, options.ClaimTimeout, When.NotExists))
        {
            return ReplayClaim.Claimed;
        }
        var state = await db.StringGetAsync(Key(id));
        return state == Handled ? ReplayClaim.AlreadyHandled
            : state.IsNull ? await TryClaimAsync(id, retention, cancellationToken) // expired between the two calls
            : ReplayClaim.InProgress;
    }

    /// <inheritdoc />
    public async ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken) =>
        await redis.GetDatabase().StringSetAsync(Key(id), Handled, retention);

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) =>
        await redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [Key(id)], [InProgress]);
}

/// <summary>Settings of <see cref="RedisReplayStore"/>.</summary>
public sealed class RedisReplayStoreOptions
{
    /// <summary>Prefix of the keys, so several receivers can share one Redis. Default <c>webhooks:seen:</c>.</summary>
    public string KeyPrefix { get; set; } = "webhooks:seen:";

    /// <summary>How long an in-progress claim blocks other instances if its handler never finishes (a crash). Default 1 minute.</summary>
    public TimeSpan ClaimTimeout { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Registers the Redis replay store.</summary>
public static class RedisReplayStoreExtensions
{
    /// <summary>
    /// Keeps replay protection in Redis, shared by every instance. Uses the registered
    /// <see cref="IConnectionMultiplexer"/>, or connects to <paramref name="configuration"/> when given.
    /// </summary>
    public static WebhookReceiverBuilder UseRedisReplayStore(this WebhookReceiverBuilder builder, string? configuration = null, Action<RedisReplayStoreOptions>? configure = null)
    {
        var options = new RedisReplayStoreOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        if (configuration is not null)
        {
            builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(configuration));
        }
        return builder.UseReplayStore<RedisReplayStore>();
    }
}
