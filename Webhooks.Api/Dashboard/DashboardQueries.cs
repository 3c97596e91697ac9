using Npgsql;
using Webhooks.Api.Infrastructure;

namespace Webhooks.Api.Dashboard;

/// <summary>The overview's figures, for everything the caller may see (one application, or all for an admin key).</summary>
public sealed class DashboardQueries(NpgsqlDataSource dataSource, TimeProvider time)
{
    public sealed record HourBar(DateTimeOffset Hour, long Succeeded, long Failed);

    public sealed record FailingEndpoint(string ApplicationId, string ApplicationName, string EndpointId, string Url, int ConsecutiveFailures,
        bool Disabled, string? DisabledReason, DateTimeOffset? LastSuccessAt, DateTimeOffset? CircuitOpenedAt = null, DateTimeOffset? CircuitRetryAt = null,
        bool ProbeOut = false);

    public sealed record Overview(
        IReadOnlyDictionary<string, long> DeliveriesByStatus,
        long Attempts,
        long AttemptsSucceeded,
        long DueBacklog,
        IReadOnlyList<HourBar> Hours,
        IReadOnlyList<FailingEndpoint> Failing)
    {
        public double? SuccessRate => Attempts == 0 ? null : (double)AttemptsSucceeded / Attempts;

        public long Deliveries(string status) => DeliveriesByStatus.GetValueOrDefault(status);
    }

    public async Task<Overview> OverviewAsync(ApiCaller caller, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var since = now.AddHours(-24);
        await using var batch = dataSource.CreateBatch();
        Add(batch, """
            SELECT status, count(*) FROM deliveries
            WHERE created_at >= @since AND (@app::text IS NULL OR application_id = @app)
            GROUP BY status
            """);
        Add(batch, $"""
            SELECT count(*) FROM deliveries d
            WHERE {Webhooks.Core.Delivery.DeliveryLifecycle.Due("d")} AND (@app::text IS NULL OR d.application_id = @app)
            """);
        Add(batch, """
            SELECT date_trunc('hour', a.started_at) AS hour, count(*) FILTER (WHERE a.succeeded), count(*) FILTER (WHERE NOT a.succeeded)
            FROM delivery_attempts a
            JOIN endpoints e ON e.id = a.endpoint_id
            WHERE a.started_at >= @since AND (@app::text IS NULL OR e.application_id = @app)
            GROUP BY 1 ORDER BY 1
            """);
        Add(batch, """
            SELECT a.id, a.name, e.id, e.url, e.consecutive_failures, e.disabled, e.disabled_reason, e.last_success_at,
                   e.circuit_opened_at, e.circuit_retry_at, e.circuit_probe_id IS NOT NULL
            FROM endpoints e
            JOIN applications a ON a.id = e.application_id AND a.deleted_at IS NULL
            WHERE e.deleted_at IS NULL AND (e.disabled OR e.consecutive_failures > 0 OR e.circuit_opened_at IS NOT NULL)
              AND (@app::text IS NULL OR e.application_id = @app)
            ORDER BY e.disabled DESC, e.circuit_opened_at IS NOT NULL DESC, e.consecutive_failures DESC
            LIMIT 20
            """);
        foreach (NpgsqlBatchCommand command in batch.BatchCommands)
        {
            command.Parameters.AddWithValue("since", since);
            command.Parameters.AddWithValue("now", now);
            command.Parameters.Add(new NpgsqlParameter("app", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)caller.ApplicationId ?? DBNull.Value });
        }

        await using var reader = await batch.ExecuteReaderAsync(ct);
        var byStatus = new Dictionary<string, long>();
        while (await reader.ReadAsync(ct))
        {
            byStatus[reader.GetString(0)] = reader.GetInt64(1);
        }
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        var due = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        var hours = new Dictionary<DateTimeOffset, HourBar>();
        while (await reader.ReadAsync(ct))
        {
            var hour = reader.GetFieldValue<DateTimeOffset>(0);
            hours[hour] = new HourBar(hour, reader.GetInt64(1), reader.GetInt64(2));
        }
        await reader.NextResultAsync(ct);
        var failing = new List<FailingEndpoint>();
        while (await reader.ReadAsync(ct))
        {
            failing.Add(new FailingEndpoint(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.GetBoolean(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                reader.GetBoolean(10)));
        }

        // 24 bars, one per hour, the empty ones included.
        var first = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-23);
        var bars = Enumerable.Range(0, 24).Select(i => first.AddHours(i)).Select(h => hours.GetValueOrDefault(h) ?? new HourBar(h, 0, 0)).ToList();
        return new Overview(byStatus, bars.Sum(b => b.Succeeded + b.Failed), bars.Sum(b => b.Succeeded), due, bars, failing);
    }

    /// <summary>Attempts and successes over the last 24 hours, per endpoint.</summary>
    public async Task<IReadOnlyDictionary<string, (long Attempts, long Succeeded)>> EndpointRatesAsync(IReadOnlyCollection<string> endpointIds, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT endpoint_id, count(*), count(*) FILTER (WHERE succeeded) FROM delivery_attempts
            WHERE endpoint_id = ANY(@ids) AND started_at >= @since
            GROUP BY endpoint_id
            """);
        command.Parameters.AddWithValue("ids", endpointIds.ToArray());
        command.Parameters.AddWithValue("since", time.GetUtcNow().AddHours(-24));
        var rates = new Dictionary<string, (long, long)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rates[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }
        return rates;
    }

    private static void Add(NpgsqlBatch batch, string sql) => batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
}
