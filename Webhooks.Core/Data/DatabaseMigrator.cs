using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Webhooks.Core.Data;

/// <summary>
/// Applies the EF Core migrations at start-up under a Postgres advisory lock, so several replicas
/// (API and workers) can start together: one migrates, the others wait and find nothing to do.
/// Waits for the database to accept connections first.
/// </summary>
public sealed partial class DatabaseMigrator(IServiceProvider services, NpgsqlDataSource dataSource, ILogger<DatabaseMigrator> logger) : IHostedService
{
    // Any fixed 64-bit number, shared by every process that migrates this database.
    private const long LockKey = 0x5745_4248_4F4F_4B53; // "WEBHOOKS"
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenWithRetryAsync(cancellationToken);
        // Unlocked on every way out, also if the lock call fails after the server granted it (a pooled connection is not
        // reset on reuse, so a session lock left behind would outlive this).
        try
        {
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
            {
                lockCommand.Parameters.AddWithValue("key", LockKey);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<WebhooksDbContext>();
            // EF reads the history table before creating it, which logs a failed command on a new database:
            // create it first, exactly as EF would (snake_case naming applies to it too).
            await db.Database.ExecuteSqlRawAsync(
                "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (migration_id character varying(150) NOT NULL PRIMARY KEY, product_version character varying(32) NOT NULL)",
                cancellationToken);
            await FoldPreReleaseHistoryAsync(db, cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
            await ProtectPlainSecretsAsync(db, scope.ServiceProvider.GetRequiredService<SecretProtector>(), cancellationToken);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", LockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // The pre-release migrations, folded into Initial before the first release.
    private const string FoldedInto = "20261125125706_Initial";
    private const string LastUnfoldedSchema = "20261123110129_DataProtectionKeys";
    private const string PayloadAsPublished = "20261125115740_PayloadAsPublished";

    /// <summary>
    /// A database made by a pre-release build carries the history of the migrations since folded into one: its schema
    /// is Initial's (once the payload column is text), so its history is rewritten to say so. One made by an older
    /// pre-release than the last folded schema is refused with what to do, rather than migrated wrongly.
    /// </summary>
    private async Task FoldPreReleaseHistoryAsync(WebhooksDbContext db, CancellationToken ct)
    {
        var applied = await db.Database.SqlQueryRaw<string>("SELECT migration_id AS \"Value\" FROM \"__EFMigrationsHistory\"").ToListAsync(ct);
        if (applied.Count == 0 || applied.Contains(FoldedInto))
        {
            return;
        }
        if (!applied.Contains(LastUnfoldedSchema))
        {
            throw new InvalidOperationException(
                $"This database was made by an early pre-release (its last migration is {applied.Max()}), whose schema cannot be brought " +
                "forward. Recreate it (in local mode: stop the AppHost and delete .apphost/postgres).");
        }
        if (!applied.Contains(PayloadAsPublished))
        {
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE messages ALTER COLUMN payload TYPE text USING payload::text", ct);
        }
        await db.Database.ExecuteSqlRawAsync(
            "DELETE FROM \"__EFMigrationsHistory\"; INSERT INTO \"__EFMigrationsHistory\" (migration_id, product_version) VALUES ({0}, {1})",
            [FoldedInto, typeof(DbContext).Assembly.GetName().Version!.ToString(3)], ct);
        LogFolded(applied.Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rewrote the history of {Count} pre-release migrations as the folded initial migration")]
    private partial void LogFolded(int count);

    /// <summary>Signing secrets stored before they were encrypted at rest are encrypted now, once, under the migration lock.</summary>
    private async Task ProtectPlainSecretsAsync(WebhooksDbContext db, SecretProtector secrets, CancellationToken ct)
    {
        var plain = await db.Endpoints.IgnoreQueryFilters()
            .Where(e => !e.Secret.StartsWith("dp1:") || (e.PreviousSecret != null && !e.PreviousSecret.StartsWith("dp1:")))
            .Select(e => new { e.Id, e.Secret, e.PreviousSecret })
            .ToListAsync(ct);
        foreach (var row in plain)
        {
            // Only if unchanged meanwhile: a rotation by a running instance wins.
            await db.Database.ExecuteSqlRawAsync(
                "UPDATE endpoints SET secret = @secret, previous_secret = @previous WHERE id = @id AND secret = @old AND previous_secret IS NOT DISTINCT FROM @old_previous",
                [
                    new NpgsqlParameter("secret", SecretProtector.IsProtected(row.Secret) ? row.Secret : secrets.Protect(row.Secret)),
                    new NpgsqlParameter("previous", NpgsqlTypes.NpgsqlDbType.Text)
                    {
                        Value = row.PreviousSecret is null ? DBNull.Value : SecretProtector.IsProtected(row.PreviousSecret) ? row.PreviousSecret : secrets.Protect(row.PreviousSecret),
                    },
                    new NpgsqlParameter("id", row.Id),
                    new NpgsqlParameter("old", row.Secret),
                    new NpgsqlParameter("old_previous", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)row.PreviousSecret ?? DBNull.Value },
                ], ct);
        }
        if (plain.Count > 0)
        {
            LogProtected(plain.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Encrypted the signing secrets of {Count} endpoints stored in plain text")]
    private partial void LogProtected(int count);

    private async Task<NpgsqlConnection> OpenWithRetryAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ConnectTimeout;
        while (true)
        {
            try
            {
                return await dataSource.OpenConnectionAsync(cancellationToken);
            }
            catch (NpgsqlException ex) when (DateTime.UtcNow < deadline && ex.IsTransient)
            {
                LogWaiting(ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database not reachable yet ({Reason}); retrying")]
    private partial void LogWaiting(string reason);
}
