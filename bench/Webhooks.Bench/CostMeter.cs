using System.Globalization;
using Npgsql;

namespace Webhooks.Bench;

/// <summary>
/// What a stretch of work cost: WAL written (bytes, records, full-page images, from <c>pg_stat_wal</c>), rows inserted,
/// updated and deleted (<c>pg_stat_user_tables</c>), and CPU seconds of Postgres (the postmaster, its live children and
/// the children it reaped), the API and the workers (from <c>/proc</c>).
/// </summary>
internal sealed class CostMeter(string database, Func<int[]> apiPids, Func<int[]> workerPids)
{
    public sealed record Snapshot(long WalBytes, long WalRecords, long FullPageImages, long Inserted, long Updated, long Deleted,
        double PostgresCpu, double ApiCpu, double WorkerCpu)
    {
        public Snapshot Minus(Snapshot before) => new(WalBytes - before.WalBytes, WalRecords - before.WalRecords, FullPageImages - before.FullPageImages,
            Inserted - before.Inserted, Updated - before.Updated, Deleted - before.Deleted,
            PostgresCpu - before.PostgresCpu, ApiCpu - before.ApiCpu, WorkerCpu - before.WorkerCpu);

        /// <summary>Per 1,000 deliveries, as the README and docs/scaling.md quote it.</summary>
        public string Per1000(long deliveries)
        {
            var k = deliveries / 1000.0;
            return string.Create(CultureInfo.InvariantCulture,
                $"WAL {WalBytes / k / 1024:N0} KiB ({WalRecords / k:N0} records, {FullPageImages / k:N0} full pages); rows +{Inserted / k:N0} ~{Updated / k:N0} -{Deleted / k:N0}; " +
                $"CPU s: Postgres {PostgresCpu / k:0.00}, API {ApiCpu / k:0.00}, workers {WorkerCpu / k:0.00}");
        }
    }

    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public async Task<Snapshot> TakeAsync()
    {
        // Table statistics reach the shared counters within a second or so of a transaction's end.
        await Task.Delay(1500);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT w.wal_bytes::bigint, w.wal_records, w.wal_fpi,
                   coalesce(sum(t.n_tup_ins), 0)::bigint, coalesce(sum(t.n_tup_upd), 0)::bigint, coalesce(sum(t.n_tup_del), 0)::bigint, pg_backend_pid()
            FROM pg_stat_wal w, pg_stat_user_tables t
            GROUP BY w.wal_bytes, w.wal_records, w.wal_fpi
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var backend = reader.GetInt32(6);
        var postmaster = ParentOf(backend);
        var postgres = Cpu(postmaster, withReaped: true) + ChildrenOf(postmaster).Sum(pid => Cpu(pid, withReaped: false));
        return new Snapshot(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5),
            postgres, apiPids().Sum(pid => Cpu(pid, withReaped: true)), workerPids().Sum(pid => Cpu(pid, withReaped: true)));
    }

    private static string[]? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may hold spaces: fields start after its closing parenthesis (field 3 on).
            return text[(text.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static int ParentOf(int pid) => Stat(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : 0;

    private static IEnumerable<int> ChildrenOf(int parent) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ParentOf(pid) == parent);

    // utime + stime (fields 14, 15), and cutime + cstime (16, 17) for children already reaped.
    private static double Cpu(int pid, bool withReaped)
    {
        if (Stat(pid) is not { } f)
        {
            return 0;
        }
        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        if (withReaped)
        {
            ticks += long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
        }
        return ticks / TicksPerSecond;
    }

    /// <summary>Forgets the statement statistics (pg_stat_statements), so <see cref="TopStatementsAsync"/> covers what follows.</summary>
    public async Task ResetStatementsAsync()
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_stat_statements_reset()", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Where Postgres spent its time since <see cref="ResetStatementsAsync"/>: the <paramref name="count"/> statements with
    /// the most execution plus planning time, each with its calls, rows and ms per 1,000 deliveries.
    /// </summary>
    public async Task<List<string>> TopStatementsAsync(long deliveries, int count = 8)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT calls, rows, total_exec_time + total_plan_time, regexp_replace(query, '\s+', ' ', 'g')
            FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
            ORDER BY total_exec_time + total_plan_time DESC LIMIT @count
            """, connection);
        command.Parameters.AddWithValue("count", count);
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        var k = deliveries / 1000.0;
        while (await reader.ReadAsync())
        {
            var query = reader.GetString(3);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{reader.GetDouble(2) / k,8:0.0} ms  {reader.GetInt64(0) / k,7:0.0} calls  {reader.GetInt64(1) / k,7:0} rows  {query[..Math.Min(110, query.Length)]}"));
        }
        return lines;
    }
}
