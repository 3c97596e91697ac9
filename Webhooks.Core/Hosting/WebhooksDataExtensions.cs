using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Webhooks.Core.Data;

namespace Microsoft.Extensions.Hosting;

public static class WebhooksDataExtensions
{
    /// <summary>The connection names the AppHost gives the database and the cache.</summary>
    public const string DatabaseConnectionName = "webhooksdb";
    public const string RedisConnectionName = "redis";

    /// <summary>
    /// Postgres and Redis through the Aspire client integrations (connection strings, health checks, traces, metrics),
    /// one Npgsql data source shared by EF Core and the hand-written statements, and migrations applied at start-up.
    /// </summary>
    public static TBuilder AddWebhooksData<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddNpgsqlDataSource(DatabaseConnectionName, configureDataSourceBuilder: NpgsqlDefaults.Apply);
        builder.Services.AddDbContextPool<WebhooksDbContext>((services, options) => options
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>())
            .UseSnakeCaseNamingConvention()
            // Deliveries and attempts of a deleted (hidden) endpoint stay reachable by their own ids until the purge: intended.
            .ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning)));
        builder.EnrichNpgsqlDbContext<WebhooksDbContext>();
        // Redis down at start is not fatal: the multiplexer reconnects in the background, and Postgres polling covers.
        builder.AddRedisClient(RedisConnectionName, configureOptions: options => options.AbortOnConnectFail = false);
        builder.Services.AddWebhooksSecrets(builder.Configuration, builder.Environment);
        builder.Services.TryAddSingleton(TimeProvider.System);
        // First hosted service registered, so nothing else starts before the schema is current.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseMigrator>());
        return builder;
    }
}
