using Quartz;
using Webhooks.Core.Delivery;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>Turns the Redis wake-up signal into an immediate dispatch pass.</summary>
public sealed partial class DispatchWakeup(DispatchSignal signal, Dispatcher dispatcher, ISchedulerFactory schedulers, ILogger<DispatchWakeup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var scheduler = await schedulers.GetScheduler(stoppingToken);
        try
        {
            await signal.SubscribeAsync(() =>
            {
                dispatcher.RequestWake();
                if (!dispatcher.IsRunning)
                {
                    // Fire and forget: the poll trigger covers a wake-up that is lost.
                    _ = scheduler.TriggerJob(DispatchJob.Key, CancellationToken.None).AsTask();
                }
            });
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The multiplexer re-subscribes when Redis returns; until then polling delivers.
            LogSubscribeFailed(ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No wake-up subscription yet ({Reason}); polling only")]
    private partial void LogSubscribeFailed(string reason);
}
