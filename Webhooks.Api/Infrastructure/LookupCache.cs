using System.Collections.Concurrent;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// What every publish looks up (the API key's scope, the application's constrained event types), kept for
/// <c>Webhooks:Api:LookupCacheSeconds</c> (5; 0: off) in this process. A change made through this process (a key revoked,
/// an application deleted, an event type created, changed or archived) empties it at once; another API replica sees the
/// change when its entries expire, so a revoked key or a new schema takes up to that long to apply there.
/// </summary>
public sealed class LookupCache(IConfiguration configuration, TimeProvider time)
{
    private readonly TimeSpan _ttl = TimeSpan.FromSeconds(configuration.GetValue("Webhooks:Api:LookupCacheSeconds", 5.0));
    private readonly ConcurrentDictionary<(string Kind, string Key), Entry> _entries = new();
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

    /// <summary>Forgets everything: called on every change to what is cached (rare next to publishes).</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}
