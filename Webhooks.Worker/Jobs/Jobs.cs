using Microsoft.Extensions.Options;
using Quartz;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>Runs a dispatch pass; fired by the poll trigger and by wake-ups on publish.</summary>
[DisallowConcurrentExecution]
public sealed class DispatchJob(Dispatcher dispatcher) : IJob
{
    public static readonly JobKey Key = new("dispatch");

    public Task Execute(IJobExecutionContext context) => dispatcher.RunAsync(context.CancellationToken);
}

/// <summary>Makes deliveries whose lease expired due again, so a crashed worker's batch is sent by another.</summary>
[DisallowConcurrentExecution]
public sealed partial class LeaseSweepJob(DeliveryStore store, Npgsql.NpgsqlDataSource dataSource, TimeProvider time, ILogger<LeaseSweepJob> logger) : IJob
{
    public static readonly JobKey Key = new("lease-sweep");

    public async Task Execute(IJobExecutionContext context)
    {
        var now = time.GetUtcNow();
        var requeued = await store.RequeueExpiredLeasesAsync(now, context.CancellationToken);
        if (requeued > 0)
        {
            LogRequeued(requeued);
        }
        Dispatcher.ReportDueBacklog(await store.CountDueAsync(now, context.CancellationToken));
        if (await dataSource.PurgeDeletedAsync(now, context.CancellationToken) is > 0 and var purged)
        {
            LogPurgedDeleted(purged);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} deleted endpoints and applications, with their messages and deliveries")]
    private partial void LogPurgedDeleted(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-queued {Count} deliveries whose lease expired")]
    private partial void LogRequeued(int count);
}

/// <summary>Deletes attempts and finished messages older than the retention period, in small batches.</summary>
[DisallowConcurrentExecution]
public sealed partial class RetentionJob(DeliveryStore store, TimeProvider time, IOptions<DeliveryOptions> options, ILogger<RetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("retention");
    private const int BatchSize = 5_000;

    public async Task Execute(IJobExecutionContext context)
    {
        var cutoff = time.GetUtcNow().AddDays(-options.Value.RetentionDays);
        var total = 0;
        int deleted;
        do
        {
            deleted = await store.PurgeAsync(cutoff, BatchSize, context.CancellationToken);
            total += deleted;
        }
        while (deleted > 0 && !context.CancellationToken.IsCancellationRequested);
        if (total > 0)
        {
            LogPurged(total, cutoff);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Count} rows older than {Cutoff}")]
    private partial void LogPurged(int count, DateTimeOffset cutoff);
}

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
                    _ = scheduler.TriggerJob(DispatchJob.Key, CancellationToken.None);
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
