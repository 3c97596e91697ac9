using Npgsql;
using Quartz;
using Webhooks.Core.Hosting;

namespace Webhooks.Worker.Jobs;

/// <summary>
/// Refreshes the planner's statistics of the hot tables once a burst has changed a good part of them, instead of waiting
/// for autovacuum (which looks once a minute at best): planned with the statistics of a table that was nearly empty, the
/// claim and the record read a just-filled table as if it held a few rows (docs/performance.md, the cold start). One
/// worker at a time (a transaction-level advisory lock); each check is one read of <c>pg_stat_user_tables</c>.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class StatisticsJob(NpgsqlDataSource dataSource, DependencyOutages outages, ILogger<StatisticsJob> logger) : IJob
{
    public static readonly JobKey Key = new("statistics");
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // Changed rows since the last analyze past which it is redone: a fifth of the table, and at least this many.
    private const long MinimumChanges = 2_000;
    private const long LockKey = 0x5745_4253_5441_5453; // "WEBSTATS"

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var locked = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@key)", connection, transaction))
            {
                locked.Parameters.AddWithValue("key", LockKey);
                if (!(bool)(await locked.ExecuteScalarAsync(cancellationToken))!)
                {
                    return;
                }
            }
            var stale = new List<string>();
            await using (var find = new NpgsqlCommand("""
                SELECT relname FROM pg_stat_user_tables
                WHERE relname IN ('deliveries', 'messages', 'delivery_attempts')
                  AND n_mod_since_analyze > greatest(@minimum, 0.2 * n_live_tup)
                """, connection, transaction))
            {
                find.Parameters.AddWithValue("minimum", MinimumChanges);
                await using var reader = await find.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    stale.Add(reader.GetString(0));
                }
            }
            foreach (var table in stale)
            {
                // The names come from the fixed list above, never from input.
                await using var analyze = new NpgsqlCommand($"ANALYZE {table}", connection, transaction);
                await analyze.ExecuteNonQueryAsync(cancellationToken);
                LogAnalyzed(table);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !cancellationToken.IsCancellationRequested)
        {
            outages.Postgres.Failed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Statistics of {Table} refreshed after a burst of changes")]
    private partial void LogAnalyzed(string table);
}
