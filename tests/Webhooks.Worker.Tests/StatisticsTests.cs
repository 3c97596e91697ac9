using System.Text.Json;
using Npgsql;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>The worker refreshes the planner's statistics after a burst, not a minute later when autovacuum looks.</summary>
[Collection(StackFixture.Collection)]
public sealed class StatisticsTests(StackFixture fixture)
{
    [Fact]
    public async Task A_burst_of_messages_gets_the_messages_table_analyzed_by_a_worker_within_seconds()
    {
        // A database of its own: its tables start empty, never analyzed by hand.
        await using var stack = await fixture.Stack.IsolatedAsync();
        var client = stack.Client();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Burst"));
        var payload = JsonSerializer.SerializeToElement(new { n = 1 });
        for (var batch = 0; batch < 6; batch++)
        {
            await client.PublishBatchAsync(app.Id, new MessageBatchIn(Enumerable.Range(0, 500).Select(_ => new MessageIn("burst", payload)).ToList()));
        }

        await using var connection = new NpgsqlConnection(stack.DatabaseConnectionString);
        await connection.OpenAsync();
        await Eventually.HoldsAsync(async () =>
        {
            // last_analyze is set by ANALYZE only (autovacuum sets last_autoanalyze).
            await using var command = new NpgsqlCommand("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'messages'", connection);
            return (bool)(await command.ExecuteScalarAsync())!;
        }, TimeSpan.FromSeconds(30), "the messages table analyzed after 3,000 inserts");
    }
}
