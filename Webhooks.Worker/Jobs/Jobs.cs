using Microsoft.Extensions.Options;
using Quartz;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Core.Hosting;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>Runs a dispatch pass; fired by the poll trigger and by wake-ups on publish.</summary>
[DisallowConcurrentExecution]
public sealed class DispatchJob(Dispatcher dispatcher) : IJob
{
    public static readonly JobKey Key = new("dispatch");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) => await dispatcher.RunAsync(cancellationToken);
}

/// <summary>
/// Records an attempt for every delivery whose lease expired (a crashed or stalled worker's), so its retry rules apply
/// and another worker sends it when it falls due; reports the due backlog; removes deleted rows nothing is in flight to.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class LeaseSweepJob(
    DeliveryStore store, Npgsql.NpgsqlDataSource dataSource, IOptions<DeliveryOptions> options, DependencyOutages outages, ILogger<LeaseSweepJob> logger) : IJob
{
    public static readonly JobKey Key = new("lease-sweep");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var ct = cancellationToken;
        try
        {
            var recorded = await store.RecordExpiredLeasesAsync(settings.RetrySchedule, settings.HealthPolicy, DateTimeOffset.UtcNow, ct);
            if (recorded > 0)
            {
                LogRecorded(recorded);
            }
            Dispatcher.ReportDueBacklog(await store.CountDueAsync(ct));
            if (await dataSource.PurgeDeletedAsync(ct) is > 0 and var purged)
            {
                LogPurgedDeleted(purged);
            }
            outages.Postgres.Recovered();
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !ct.IsCancellationRequested)
        {
            outages.Postgres.Failed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} deleted endpoints and applications, with their messages and deliveries")]
    private partial void LogPurgedDeleted(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorded {Count} attempts whose worker stopped before recording them (lease expired); their retry rules apply")]
    private partial void LogRecorded(int count);
}

/// <summary>Deletes attempts and finished messages older than the retention period, in small batches.</summary>
[DisallowConcurrentExecution]
public sealed partial class RetentionJob(DeliveryStore store, TimeProvider time, IOptions<DeliveryOptions> options, DependencyOutages outages, ILogger<RetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("retention");
    private const int BatchSize = 5_000;

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow().AddDays(-options.Value.RetentionDays);
        var total = 0;
        int deleted;
        try
        {
            do
            {
                deleted = await store.PurgeAsync(cutoff, BatchSize, cancellationToken);
                total += deleted;
            }
            while (deleted > 0 && !cancellationToken.IsCancellationRequested);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !cancellationToken.IsCancellationRequested)
        {
            outages.Postgres.Failed(ex);
        }
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
