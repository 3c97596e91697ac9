using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace Webhooks.Api.Sources;

/// <summary>
/// Each source's rate limit in this API process: a token bucket of its <c>rateLimitPerSecond</c> with bursts of twice
/// that, so a flood at one ingest URL (a sender's backlog, or someone hammering it) is answered 429 before its body is
/// read or its signature computed, and cannot take the database from publishes. Refusals of one source are logged at most
/// once a second, with the count since the last entry: a flood writes no more rows than a trickle.
/// </summary>
public sealed class IngestLimits : IDisposable
{
    private readonly ConcurrentDictionary<string, (int Rate, TokenBucketRateLimiter Limiter)> _buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Throttled> _throttled = new(StringComparer.Ordinal);

    private sealed class Throttled
    {
        public long Count;
        public long LoggedAtTicks;
    }

    /// <summary>Whether the source may take one more request now.</summary>
    public bool TryTake(string sourceId, int ratePerSecond)
    {
        var bucket = _buckets.AddOrUpdate(sourceId, _ => (ratePerSecond, Create(ratePerSecond)),
            (_, existing) =>
            {
                if (existing.Rate == ratePerSecond)
                {
                    return existing;
                }
                existing.Limiter.Dispose();
                return (ratePerSecond, Create(ratePerSecond));
            });
        using var lease = bucket.Limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    /// <summary>Counts one refusal; returns how many to log now (all since the last entry), or 0 when one was logged within the second.</summary>
    public long CountThrottled(string sourceId, DateTimeOffset now)
    {
        var throttled = _throttled.GetOrAdd(sourceId, _ => new Throttled());
        Interlocked.Increment(ref throttled.Count);
        var last = Interlocked.Read(ref throttled.LoggedAtTicks);
        if (now.UtcTicks - last < TimeSpan.TicksPerSecond || Interlocked.CompareExchange(ref throttled.LoggedAtTicks, now.UtcTicks, last) != last)
        {
            return 0;
        }
        return Interlocked.Exchange(ref throttled.Count, 0);
    }

    private static TokenBucketRateLimiter Create(int ratePerSecond) => new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = Math.Max(1, ratePerSecond * 2),
        TokensPerPeriod = ratePerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    });

    public void Dispose()
    {
        foreach (var bucket in _buckets.Values)
        {
            bucket.Limiter.Dispose();
        }
    }
}
