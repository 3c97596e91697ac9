using Quartz;
using Webhooks.Core.Data;
using Webhooks.Core.Hosting;

namespace Webhooks.Worker.Jobs;

/// <summary>Removes deleted endpoints and applications (with everything of theirs) once nothing is in flight to them.</summary>
[DisallowConcurrentExecution]
public sealed partial class PurgeDeletedJob(Npgsql.NpgsqlDataSource dataSource, DependencyOutages outages, ILogger<PurgeDeletedJob> logger) : IJob
{
    public static readonly JobKey Key = new("purge-deleted");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        try
        {
            if (await dataSource.PurgeDeletedAsync(cancellationToken) is > 0 and var purged)
            {
                LogPurged(purged);
            }
            outages.Postgres.Recovered();
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !cancellationToken.IsCancellationRequested)
        {
            outages.Postgres.Failed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} deleted endpoints and applications, with their messages and deliveries")]
    private partial void LogPurged(int count);
}
