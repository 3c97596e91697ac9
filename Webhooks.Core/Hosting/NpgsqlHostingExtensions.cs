using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The shape of the Aspire client integrations <c>Aspire.Npgsql</c> and
/// <c>Aspire.Npgsql.EntityFrameworkCore.PostgreSQL</c> (not served by the registry here), on plain Npgsql:
/// read <c>ConnectionStrings:{name}</c>, register the client, a health check and tracing in one call.
/// Swapping in the Aspire packages is removing this file and adding the package.
/// </summary>
public static class NpgsqlHostingExtensions
{
    public static void AddNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName, Action<NpgsqlDataSourceBuilder>? configure = null)
    {
        var connectionString = ConnectionStringOf(builder.Configuration, connectionName);
        builder.Services.TryAddSingleton(_ =>
        {
            var dataSource = new NpgsqlDataSourceBuilder(connectionString);
            // Keys as the string spells them, compared as Npgsql does: case and spaces aside ("MaxAutoPrepare" is "Max Auto Prepare").
            var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
                .Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant()).ToHashSet();
            // An unreachable server is reported in seconds, not after the 15 s default (unless the string says otherwise).
            if (!given.Contains("TIMEOUT"))
            {
                dataSource.ConnectionStringBuilder.Timeout = 5;
            }
            // The same few statements run thousands of times a second (publish, claim, record): prepared once per
            // connection, Postgres stops parsing and planning them each time.
            if (!given.Contains("MAXAUTOPREPARE"))
            {
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
            }
            // Every statement here leaves no session state behind (settings are SET LOCAL, locks are transaction-scoped or
            // released), so a pooled connection needs no reset round of statements before its next use.
            if (!given.Contains("NORESETONCLOSE"))
            {
                dataSource.ConnectionStringBuilder.NoResetOnClose = true;
            }
            configure?.Invoke(dataSource);
            return dataSource.Build();
        });
        builder.Services.AddHealthChecks().AddCheck<NpgsqlHealthCheck>(connectionName);
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddNpgsql())
            .WithMetrics(metrics => metrics.AddMeter("Npgsql"));
    }

    /// <summary>A pooled <typeparamref name="TContext"/> on the shared data source of <paramref name="connectionName"/>.</summary>
    public static void AddNpgsqlDbContext<TContext>(this IHostApplicationBuilder builder, string connectionName, Action<DbContextOptionsBuilder>? configure = null)
        where TContext : DbContext
    {
        if (!builder.Services.Any(s => s.ServiceType == typeof(NpgsqlDataSource)))
        {
            builder.AddNpgsqlDataSource(connectionName);
        }
        builder.Services.AddDbContextPool<TContext>((services, options) =>
        {
            options.UseNpgsql(services.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure(3, TimeSpan.FromSeconds(1), null));
            configure?.Invoke(options);
        });
    }

    internal static string ConnectionStringOf(IConfiguration configuration, string connectionName) =>
        configuration.GetConnectionString(connectionName) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"ConnectionString is missing. It should be provided in 'ConnectionStrings:{connectionName}' " +
                $"(environment variable ConnectionStrings__{connectionName}).");
}

internal sealed class NpgsqlHealthCheck(NpgsqlDataSource dataSource) : Diagnostics.HealthChecks.IHealthCheck
{
    public async Task<Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return Diagnostics.HealthChecks.HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return new Diagnostics.HealthChecks.HealthCheckResult(context.Registration.FailureStatus, ex.Message, ex);
        }
    }
}
