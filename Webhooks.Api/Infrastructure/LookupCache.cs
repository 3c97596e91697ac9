using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// What every publish looks up (the API key's scope, the application, its constrained event types), kept for
/// <c>Webhooks:Api:LookupCacheSeconds</c> (5; 0: off) in this process. A change made through any API process (a key
/// revoked, an application changed or deleted, an event type created, changed or archived) empties it at once here and, through
/// Redis pub/sub (<see cref="Channel"/>), in every other API replica as soon as the message arrives. With Redis down the
/// message is lost and the other replicas see the change when their entries expire: the TTL is the bound, the broadcast
/// the usual case.
/// </summary>
public sealed partial class LookupCache(IConfiguration configuration, TimeProvider time, IConnectionMultiplexer redis, ILogger<LookupCache> logger)
{
    /// <summary>The channel on which API processes tell each other that a cached lookup changed.</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal("webhooks:lookups");

    private readonly TimeSpan _ttl = TimeSpan.FromSeconds(configuration.GetValue("Webhooks:Api:LookupCacheSeconds", 5.0));
    private readonly ConcurrentDictionary<(string Kind, string Key), Entry> _entries = new();
    private readonly string _process = Guid.NewGuid().ToString("N");
    private long _generation;

    private sealed record Entry(object? Value, DateTimeOffset ExpiresAt, long Generation);

    /// <summary>The cached value, else <paramref name="load"/>'s (kept unless <paramref name="keep"/> says no, e.g. for a key not found).</summary>
    public async Task<T> GetAsync<T>(string kind, string key, Func<Task<T>> load, Func<T, bool>? keep = null)
    {
        if (_ttl <= TimeSpan.Zero)
        {
            return await load();
        }
        var now = time.GetUtcNow();
        var generation = Interlocked.Read(ref _generation);
        if (_entries.TryGetValue((kind, key), out var entry) && entry.ExpiresAt > now && entry.Generation == generation)
        {
            return (T)entry.Value!;
        }
        var value = await load();
        if (keep?.Invoke(value) ?? true)
        {
            // Loaded before a change made meanwhile? Then its generation is stale and it is never served.
            _entries[(kind, key)] = new Entry(value, now + _ttl, generation);
        }
        if (_entries.Count > 10_000)
        {
            foreach (var old in _entries.Where(e => e.Value.ExpiresAt <= now || e.Value.Generation != generation))
            {
                _entries.TryRemove(old);
            }
        }
        return value;
    }

    /// <summary>The cached value, if there is one that is still good; never loads.</summary>
    public bool TryGet<T>(string kind, string key, out T? value)
    {
        if (_ttl > TimeSpan.Zero && _entries.TryGetValue((kind, key), out var entry) && entry.ExpiresAt > time.GetUtcNow() &&
            entry.Generation == Interlocked.Read(ref _generation))
        {
            value = (T?)entry.Value;
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>
    /// Forgets everything, here and (best effort) in the other API processes: called after every committed change to
    /// what is cached (rare next to publishes).
    /// </summary>
    public void Invalidate()
    {
        Forget();
        try
        {
            redis.GetSubscriber().Publish(Channel, _process, CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogBroadcastLost(ex.Message);
        }
    }

    /// <summary>Listens for the other processes' changes (started with the API).</summary>
    public Task SubscribeAsync() =>
        redis.GetSubscriber().SubscribeAsync(Channel, (_, sender) =>
        {
            if (sender != _process)
            {
                Forget();
            }
        });

    private void Forget()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cached lookups changed but other API processes were not told ({Reason}); they see it within the cache's lifetime")]
    private partial void LogBroadcastLost(string reason);
}

/// <summary>Subscribes the <see cref="LookupCache"/> to the other API processes' changes; one refused at start is logged, and the entries then only expire.</summary>
internal sealed partial class LookupCacheSubscription(LookupCache cache, ILogger<LookupCacheSubscription> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await cache.SubscribeAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogNotSubscribed(ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not subscribed to other API processes' changes ({Reason}); cached lookups expire on their own")]
    private partial void LogNotSubscribed(string reason);
}
