using System.Collections.Concurrent;
using System.Diagnostics;

namespace Webhooks.Api.Sources;

/// <summary>
/// The ingest route's limits in this API process, each a token bucket refilled continuously (no timer, nothing to dispose):
/// <list type="bullet">
/// <item><b>Publish</b>, per source: its <c>rateLimitPerSecond</c>, bursts of twice that, charged only once a request's
/// signature is verified, so forged requests never use up the sender's share.</item>
/// <item><b>Flood gate</b>, per source: ten times that, charged before the body is read, so a flood at one ingest URL
/// costs a bounded amount of reading and hashing.</item>
/// <item><b>Look-ups</b> of tokens not in the cache, for the whole process: a flood of made-up tokens cannot take the
/// database's connections from publishes.</item>
/// </list>
/// A refused request's log entry is written for the first few of each second per source; past that, refusals are
/// counted and folded into one entry a second, so a flood writes no more rows than a trickle.
/// </summary>
public sealed class IngestLimits
{
    /// <summary>Each source's flood gate, as a multiple of its publish rate.</summary>
    public const int FloodFactor = 10;

    /// <summary>Refusals of one source logged one by one each second; the rest are folded into a count.</summary>
    public const int LoggedRefusalsPerSecond = 10;

    /// <summary>Database look-ups of uncached ingest tokens per second, per process.</summary>
    public const int LookupsPerSecond = 500;

    private readonly ConcurrentDictionary<string, Buckets> _sources = new(StringComparer.Ordinal);
    private readonly Bucket _lookups = new();

    private sealed class Buckets
    {
        public readonly Bucket Publish = new();
        public readonly Bucket Flood = new();
        public readonly Bucket Logged = new();
        public long Folded;
        public long FoldedLoggedAt;
        public long LastUsed;
    }

    /// <summary>Whether a request for the source may be read and verified now (the flood gate).</summary>
    public bool MayRead(string sourceId, int ratePerSecond) => For(sourceId).Flood.TryTake(ratePerSecond * FloodFactor);

    /// <summary>Whether a verified request of the source may be published now.</summary>
    public bool MayPublish(string sourceId, int ratePerSecond) => For(sourceId).Publish.TryTake(ratePerSecond);

    /// <summary>Whether the database may be asked for an uncached token now.</summary>
    public bool MayLookUp() => _lookups.TryTake(LookupsPerSecond);

    /// <summary>
    /// Counts one refusal: 1 when it is to be logged on its own, the number of refusals it stands for when it is the
    /// folded entry of the second (at most one a second), 0 when it is only counted.
    /// </summary>
    public long ToLog(string sourceId)
    {
        var buckets = For(sourceId);
        if (buckets.Logged.TryTake(LoggedRefusalsPerSecond / 2.0))
        {
            return 1;
        }
        Interlocked.Increment(ref buckets.Folded);
        // One folded entry a second, written by whichever refusal moves the time of the last one on.
        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref buckets.FoldedLoggedAt);
        return now - last >= Stopwatch.Frequency && Interlocked.CompareExchange(ref buckets.FoldedLoggedAt, now, last) == last
            ? Interlocked.Exchange(ref buckets.Folded, 0)
            : 0;
    }

    private Buckets For(string sourceId)
    {
        var buckets = _sources.GetOrAdd(sourceId, _ => new Buckets());
        Volatile.Write(ref buckets.LastUsed, Stopwatch.GetTimestamp());
        if (_sources.Count > 10_000)
        {
            // Sources idle for a minute start over with full buckets; deleted ones go.
            var idle = Stopwatch.GetTimestamp() - Stopwatch.Frequency * 60;
            foreach (var (id, old) in _sources)
            {
                if (Volatile.Read(ref old.LastUsed) < idle)
                {
                    _sources.TryRemove(id, out _);
                }
            }
        }
        return buckets;
    }

    /// <summary>A token bucket of a given rate (tokens a second) holding at most twice that, refilled by the time elapsed.</summary>
    private sealed class Bucket
    {
        private readonly Lock _lock = new();
        private double _tokens = double.NaN;
        private long _at;

        public bool TryTake(double rate)
        {
            var now = Stopwatch.GetTimestamp();
            lock (_lock)
            {
                var capacity = Math.Max(1, rate * 2);
                _tokens = double.IsNaN(_tokens) ? capacity : Math.Min(capacity, _tokens + (now - _at) * rate / Stopwatch.Frequency);
                _at = now;
                if (_tokens < 1)
                {
                    return false;
                }
                _tokens -= 1;
                return true;
            }
        }

    }
}
