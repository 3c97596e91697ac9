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
            // Three quick retries, as before the integration (its default is six over up to 30 s, past the API's deadline);
            // the integration keeps a retrying strategy it finds.
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure(3, TimeSpan.FromSeconds(1), null))
            .UseSnakeCaseNamingConvention()
            // Deliveries and attempts of a deleted (hidden) endpoint stay reachable by their own ids until the purge: intended.
            .ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning)));
        builder.EnrichNpgsqlDbContext<WebhooksDbContext>();
        builder.AddRedisClient(RedisConnectionName, configureOptions: options =>
        {
            // Redis down at start is not fatal: the multiplexer reconnects in the background, and Postgres polling covers.
            options.AbortOnConnectFail = false;
            // The multiplexer logs every connect step and, while Redis is down, every failed reconnect with its stack
            // trace; the services report an outage in one line when it starts and one when it ends (RedisOutageWatch).
            options.LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        });
        builder.Services.AddWebhooksSecrets(builder.Configuration, builder.Environment);
        builder.Services.TryAddSingleton(TimeProvider.System);
        // First hosted service registered, so nothing else starts before the schema is current.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseMigrator>());
        return builder;
    }
}
