using Microsoft.EntityFrameworkCore;
using Npgsql;
using Webhooks.Core.Delivery;

namespace Webhooks.Core.Data;

/// <summary>
/// The one rule for when deleted endpoints and applications really go: once none of their deliveries is in flight
/// under a live lease, they are removed with everything of theirs (by cascade). The API applies it right after a
/// delete; the worker's lease sweep applies it to whatever is left.
/// </summary>
public static class DeletedRows
{
    private static readonly string PurgeSql = $"""
        WITH gone_endpoints AS (
            DELETE FROM endpoints e
            WHERE e.deleted_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND {DeliveryLifecycle.UnderLiveLease("d")})
            RETURNING 1
        ), gone_applications AS (
            DELETE FROM applications a
            WHERE a.deleted_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.application_id = a.id AND {DeliveryLifecycle.UnderLiveLease("d")})
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone_endpoints) + (SELECT count(*) FROM gone_applications)
        """;

    /// <summary>Removes the deleted endpoints and applications that nothing is in flight to. Returns how many went.</summary>
    public static async Task<int> PurgeDeletedAsync(this NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(PurgeSql);
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The same, on the context's connection.</summary>
    public static Task PurgeDeletedAsync(this WebhooksDbContext db, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(PurgeSql, ct);
}
