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
