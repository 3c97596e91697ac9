using Microsoft.Extensions.Options;
using Quartz;
using Webhooks.Core.Hosting;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>
/// Records an attempt for every delivery whose lease expired (a crashed or stalled worker's), so its retry rules apply
/// and another worker sends it when it falls due; reports the due backlog.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class LeaseSweepJob(
    DeliveryStore store, IOptions<DeliveryOptions> options, DependencyOutages outages, ILogger<LeaseSweepJob> logger) : IJob
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
            WorkerTelemetry.ReportDueBacklog(await store.CountDueAsync(ct));
            outages.Postgres.Recovered();
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !ct.IsCancellationRequested)
        {
            outages.Postgres.Failed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorded {Count} attempts whose worker stopped before recording them (lease expired); their retry rules apply")]
    private partial void LogRecorded(int count);
}
