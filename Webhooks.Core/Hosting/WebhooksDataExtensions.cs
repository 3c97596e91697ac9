using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Webhooks.Core.Data;

namespace Microsoft.Extensions.Hosting;

public static class WebhooksDataExtensions
{
    /// <summary>The connection names the AppHost gives the database and the cache.</summary>
    public const string DatabaseConnectionName = "webhooksdb";
    public const string RedisConnectionName = "redis";

    /// <summary>Postgres (data source + pooled DbContext), Redis, and migrations applied at start-up.</summary>
    public static TBuilder AddWebhooksData<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddNpgsqlDataSource(DatabaseConnectionName);
        builder.AddNpgsqlDbContext<WebhooksDbContext>(DatabaseConnectionName, options => options
            .UseSnakeCaseNamingConvention()
            // Deliveries and attempts of a deleted (hidden) endpoint stay reachable by their own ids until the purge: intended.
            .ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning)));
        builder.AddRedisClient(RedisConnectionName);
        builder.Services.AddWebhooksSecrets(builder.Configuration, builder.Environment);
        builder.Services.TryAddSingleton(TimeProvider.System);
        // First hosted service registered, so nothing else starts before the schema is current.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseMigrator>());
        return builder;
    }
}
