using Microsoft.Extensions.Options;
using Quartz;
using Webhooks.Core.Hosting;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>Deletes attempts and finished messages older than the retention period, in small batches.</summary>
[DisallowConcurrentExecution]
public sealed partial class RetentionJob(DeliveryStore store, TimeProvider time, IOptions<DeliveryOptions> options, DependencyOutages outages, ILogger<RetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("retention");
    private const int BatchSize = 5_000;

    public async Task Execute(IJobExecutionContext context)
    {
        var cutoff = time.GetUtcNow().AddDays(-options.Value.RetentionDays);
        var total = 0;
        int deleted;
        try
        {
            do
            {
                deleted = await store.PurgeAsync(cutoff, BatchSize, context.CancellationToken);
                total += deleted;
            }
            while (deleted > 0 && !context.CancellationToken.IsCancellationRequested);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !context.CancellationToken.IsCancellationRequested)
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
