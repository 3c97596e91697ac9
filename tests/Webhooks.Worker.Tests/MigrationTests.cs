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
        // What a database of the last pre-release build looked like: the five migrations, the payload still jsonb, no trace ids, no portal links.
        await isolated.QueryAsync<int>("""
            WITH gone AS (DELETE FROM "__EFMigrationsHistory" RETURNING 1),
                 old AS (INSERT INTO "__EFMigrationsHistory" (migration_id, product_version) VALUES
                     ('20261123081154_Initial', '10.0.15'), ('20261123083452_RetrySchedules', '10.0.15'),
                     ('20261123103033_ManagementApi', '10.0.15'), ('20261123104905_DeliveriesCreatedAt', '10.0.15'),
                     ('20261123110129_DataProtectionKeys', '10.0.15') RETURNING 1)
            SELECT 1
            """);
        await isolated.QueryAsync<int>("ALTER TABLE messages ALTER COLUMN payload TYPE jsonb USING payload::jsonb; ALTER TABLE delivery_attempts DROP COLUMN trace_id; SELECT 1");
        // Nor the columns of the migrations after the fold.
        await isolated.QueryAsync<int>("ALTER TABLE endpoints DROP COLUMN auth, DROP COLUMN auth_summary; ALTER TABLE delivery_attempts DROP COLUMN token_refreshed; DROP TABLE portal_links; SELECT 1");

        await using (await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["ConnectionStrings__webhooksdb"] = isolated.DatabaseConnectionString }))
        {
        }

        // Folded, then brought forward by the migrations that came after the fold.
        Assert.Equal("20261125125706_Initial,20261125131318_AttemptTraceId,20261204060218_EndpointAuthentication,20261204062026_PortalLinks",
            await isolated.QueryAsync<string>("SELECT string_agg(migration_id, ',' ORDER BY migration_id) FROM \"__EFMigrationsHistory\""));
        Assert.Equal(1L, await isolated.QueryAsync<long>(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'delivery_attempts' AND column_name = 'trace_id'"));
        Assert.Equal("text", await isolated.QueryAsync<string>(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'payload'"));
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE id = @id", ("id", message.Id)));
    }
}
