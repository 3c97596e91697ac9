using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Webhooks.Core.Hosting;

/// <summary>
/// Tells a Redis outage in the service's two outage lines as soon as the connection drops, whether or not a call was
/// under way: most Redis use here (wake-ups, a rate limit of an idle endpoint) fails silently by design, so without this
/// an outage would go unseen until it ended. The multiplexer reconnects by itself; its restore ends the outage.
/// </summary>
public sealed class RedisOutageWatch(IConnectionMultiplexer redis, DependencyOutages outages) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += OnFailed;
        redis.ConnectionRestored += OnRestored;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed -= OnFailed;
        redis.ConnectionRestored -= OnRestored;
        return Task.CompletedTask;
    }

    // The interactive connection carries the commands; the subscription connection fails and returns with it.
    private void OnFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            outages.Redis.Failed(e.Exception ?? new IOException($"connection to {e.EndPoint} failed ({e.FailureType})"));
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            outages.Redis.Recovered();
        }
    }
}
