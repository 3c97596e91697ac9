using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Webhooks.Core.Delivery;

/// <summary>
/// Wakes the dispatchers when messages are published (Redis pub/sub), so publish-to-receipt latency is not
/// the polling interval. Best effort: when Redis is down the signal is lost and polling delivers anyway.
/// </summary>
public sealed partial class DispatchSignal(IConnectionMultiplexer redis, ILogger<DispatchSignal> logger)
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("webhooks:dispatch");

    public async Task NotifyAsync()
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, "1", CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogSignalLost(ex.Message);
        }
    }

    public Task SubscribeAsync(Action onSignal) =>
        redis.GetSubscriber().SubscribeAsync(Channel, (_, _) => onSignal());

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dispatch signal not sent ({Reason}); workers will poll")]
    private partial void LogSignalLost(string reason);
}
