using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Webhooks.Core.Data;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>The pre-release migrations are folded into one: a database made before the fold still starts.</summary>
[Collection(StackFixture.Collection)]
public sealed class MigrationTests(StackFixture fixture)
{
    [Fact]
    public async Task A_database_made_by_the_pre_release_migrations_is_brought_onto_the_folded_initial_migration()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 0);
        await using var s = await Scenario.CreateAsync(isolated.Client());
        var message = await s.PublishAsync(1);
        // What a database of the last pre-release build looked like: the five migrations, the payload still jsonb, no trace ids,
        // and nothing of the migrations after the fold (rolled back by their own Down).
        var options = new DbContextOptionsBuilder<WebhooksDbContext>().UseNpgsql(isolated.DatabaseConnectionString).UseSnakeCaseNamingConvention().Options;
        string[] migrations;
        await using (var db = new WebhooksDbContext(options))
        {
            migrations = db.Database.GetMigrations().ToArray();
            await db.GetService<IMigrator>().MigrateAsync("20261125131318_AttemptTraceId");
        }
        await isolated.QueryAsync<int>("""
            WITH gone AS (DELETE FROM "__EFMigrationsHistory" RETURNING 1),
                 old AS (INSERT INTO "__EFMigrationsHistory" (migration_id, product_version) VALUES
                     ('20261123081154_Initial', '10.0.15'), ('20261123083452_RetrySchedules', '10.0.15'),
                     ('20261123103033_ManagementApi', '10.0.15'), ('20261123104905_DeliveriesCreatedAt', '10.0.15'),
                     ('20261123110129_DataProtectionKeys', '10.0.15') RETURNING 1)
            SELECT 1
            """);
        await isolated.QueryAsync<int>("ALTER TABLE messages ALTER COLUMN payload TYPE jsonb USING payload::jsonb; ALTER TABLE delivery_attempts DROP COLUMN trace_id; SELECT 1");

        await using (await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["ConnectionStrings__webhooksdb"] = isolated.DatabaseConnectionString }))
        {
        }

        // Folded, then brought forward by the migrations that came after the fold.
        Assert.Equal(string.Join(',', migrations),
            await isolated.QueryAsync<string>("SELECT string_agg(migration_id, ',' ORDER BY migration_id) FROM \"__EFMigrationsHistory\""));
        Assert.Equal(1L, await isolated.QueryAsync<long>(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'delivery_attempts' AND column_name = 'trace_id'"));
        Assert.Equal("text", await isolated.QueryAsync<string>(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'payload'"));
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", message.Id)));
    }
}
