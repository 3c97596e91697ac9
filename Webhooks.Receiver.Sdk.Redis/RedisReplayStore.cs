using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Webhooks.Receiver.Sdk.Redis;

/// <summary>
/// Replay protection shared by every instance of a receiver. A claim is one atomic <c>SET NX</c> with an expiry
/// (never a read followed by a write), so two instances receiving the same webhook at once cannot both handle it.
/// A handled id is kept for <see cref="RedisReplayStoreOptions.HandledRetention"/> (48 hours by default), longer
/// than the sender's retries, so a late retry of a handled webhook is answered 2xx without running the handler.
/// </summary>
public sealed class RedisReplayStore : IWebhookReplayStore
{
    private const string InProgress = "in-progress";
    private const string Handled = "handled";

    // Deletes a claim only while it is still an in-progress one: a handled mark is never released.
    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisReplayStoreOptions _options;

    /// <summary>Creates the store on a connection; the options are read once.</summary>
    public RedisReplayStore(IConnectionMultiplexer redis, IOptions<RedisReplayStoreOptions> options)
    {
        _redis = redis;
        _options = options.Value;
    }

    private RedisKey Key(string id) => _options.KeyPrefix + id;

    /// <inheritdoc />
    public async ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        var db = _redis.GetDatabase();
        if (await db.StringSetAsync(Key(id), InProgress, _options.ClaimTimeout, When.NotExists))
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
        await _redis.GetDatabase().StringSetAsync(Key(id), Handled, retention > _options.HandledRetention ? retention : _options.HandledRetention);

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) =>
        await _redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [Key(id)], [InProgress]);
}

/// <summary>Settings of <see cref="RedisReplayStore"/>, checked when the app starts.</summary>
public sealed class RedisReplayStoreOptions
{
    /// <summary>Prefix of the keys, so several receivers can share one Redis. Default <c>webhooks:seen:</c>.</summary>
    public string KeyPrefix { get; set; } = "webhooks:seen:";

    /// <summary>
    /// How long a handled id is kept (never less than the receiver's replay window). Default 48 hours: the delivery
    /// engine's default schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 %) ends at most
    /// about 33 hours after the first attempt, and Svix's is the same. From 1 hour to 30 days; raise it if your
    /// sender retries for longer.
    /// </summary>
    public TimeSpan HandledRetention { get; set; } = TimeSpan.FromHours(48);

    /// <summary>
    /// How long an in-progress claim blocks other requests for the same id if its handler never finishes (a crash).
    /// Meanwhile they are answered 503 and retried. Keep it above your handlers' longest run. Default 1 minute;
    /// from 1 second to 1 hour.
    /// </summary>
    public TimeSpan ClaimTimeout { get; set; } = TimeSpan.FromMinutes(1);
}

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

internal sealed class RedisReplayStoreOptionsValidator : IValidateOptions<RedisReplayStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisReplayStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrEmpty(options.KeyPrefix))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.KeyPrefix)} is empty: give the receiver's keys a prefix of their own.");
        }
        if (options.HandledRetention < TimeSpan.FromHours(1) || options.HandledRetention > TimeSpan.FromDays(30))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.HandledRetention)} is {options.HandledRetention}; it must be from 1 hour to 30 days (default 48 hours, longer than the sender's retries).");
        }
        if (options.ClaimTimeout < TimeSpan.FromSeconds(1) || options.ClaimTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.ClaimTimeout)} is {options.ClaimTimeout}; it must be from 1 second to 1 hour.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
