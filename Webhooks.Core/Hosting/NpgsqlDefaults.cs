using System.Data.Common;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The connection settings this workload measured best with, applied to the Aspire Npgsql data source unless the
/// connection string sets them itself (see docs/scaling.md).
/// </summary>
public static class NpgsqlDefaults
{
    public static void Apply(NpgsqlDataSourceBuilder dataSource)
    {
        // Keys as the string spells them, compared as Npgsql does: case and spaces aside ("MaxAutoPrepare" is "Max Auto Prepare").
        var given = new DbConnectionStringBuilder { ConnectionString = dataSource.ConnectionString }.Keys.Cast<string>()
            .Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant()).ToHashSet();
        // An unreachable server is reported in seconds, not after the 15 s default.
        if (!given.Contains("TIMEOUT"))
        {
            dataSource.ConnectionStringBuilder.Timeout = 5;
        }
        // The publish, claim and record statements run thousands of times a second: prepared once per connection.
        if (!given.Contains("MAXAUTOPREPARE"))
        {
            dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
        }
        // No statement leaves session state behind (settings are SET LOCAL, locks transaction-scoped or released), so a
        // pooled connection needs no reset round before its next use.
        if (!given.Contains("NORESETONCLOSE"))
        {
            dataSource.ConnectionStringBuilder.NoResetOnClose = true;
        }
    }
}
