using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Webhooks.Receiver.Sdk.Redis;

/// <summary>
/// Replay protection shared by every instance of a receiver. A claim is one atomic <c>SET NX</c> with an expiry
/// (never a read followed by a write), so two instances receiving the same webhook at once cannot both handle it.
/// A handled id is kept for <see cref="RedisReplayStoreOptions.HandledRetention"/> (72 hours by default), longer
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
        if (await db.StringSetAsync(Key(id), InProgress, _options.ClaimTimeout, When.NotExists).ConfigureAwait(false))
        {
            return ReplayClaim.Claimed;
        }
        var state = await db.StringGetAsync(Key(id)).ConfigureAwait(false);
        return state == Handled ? ReplayClaim.AlreadyHandled
            : state.IsNull ? await TryClaimAsync(id, retention, cancellationToken).ConfigureAwait(false) // expired between the two calls
            : ReplayClaim.InProgress;
    }

    /// <inheritdoc />
    public async ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken) =>
        await _redis.GetDatabase().StringSetAsync(Key(id), Handled, retention > _options.HandledRetention ? retention : _options.HandledRetention).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) =>
        await _redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [Key(id)], [InProgress]).ConfigureAwait(false);
}
