using System.Collections.Concurrent;
using StackExchange.Redis;
using Webhooks.Core.Hosting;

namespace Webhooks.Worker.Dispatch;

/// <summary>
/// Per-endpoint requests-per-second limit: a token bucket in Redis, shared by every worker replica, with a burst
/// of one second's worth. The clock is Redis's own (TIME), so replicas with skewed clocks agree. While Redis is
/// unreachable each worker keeps a local bucket, so limits still hold per worker and delivery goes on.
/// </summary>
public sealed class EndpointRateLimiter(IConnectionMultiplexer redis, TimeProvider time, DependencyOutages outages)
{
    private const string Script = """
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(bucket[1]) or burst
        local at = tonumber(bucket[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
        local wait = 0
        if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
        return wait
        """;

    private readonly ConcurrentDictionary<string, LocalBucket> _local = new();
    private long _retryRedisAt;

    /// <summary>Takes a token for one request now, or says how long until one is free (nothing is taken then).</summary>
    public async ValueTask<TimeSpan> TryAcquireAsync(string endpointId, int perSecond)
    {
        // While Redis is away (down, or paused and timing out), ask it again only after the outage's backoff: a
        // claim must not wait out a Redis timeout for every rate-limited delivery.
        if (redis.IsConnected && time.GetTimestamp() >= Volatile.Read(ref _retryRedisAt))
        {
            try
            {
                var wait = (long)await redis.GetDatabase().ScriptEvaluateAsync(Script, [(RedisKey)("webhooks:rate:" + endpointId)], [perSecond, perSecond]);
                outages.Redis.Recovered();
                return TimeSpan.FromMilliseconds(wait);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                var backoff = outages.Redis.Failed(ex);
                Volatile.Write(ref _retryRedisAt, time.GetTimestamp() + (long)(backoff.TotalSeconds * time.TimestampFrequency));
            }
        }
        return _local.GetOrAdd(endpointId, _ => new LocalBucket()).TryAcquire(perSecond, time.GetTimestamp(), time);
    }

    private sealed class LocalBucket
    {
        private double _tokens = -1;
        private long _at;

        public TimeSpan TryAcquire(int rate, long now, TimeProvider time)
        {
            lock (this)
            {
                if (_tokens < 0)
                {
                    _tokens = rate;
                    _at = now;
                }
                _tokens = Math.Min(rate, _tokens + time.GetElapsedTime(_at, now).TotalSeconds * rate);
                _at = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return TimeSpan.Zero;
                }
                return TimeSpan.FromSeconds((1 - _tokens) / rate);
            }
        }
    }
}
