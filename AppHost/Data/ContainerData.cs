using Aspire.Hosting.ApplicationModel;

namespace Webhooks.AppHost.Data;

/// <summary>Postgres and Redis as containers (Aspire's own resources), their data in named volumes kept across runs.</summary>
internal static class ContainerData
{
    public static (IResourceBuilder<IResourceWithConnectionString> Database, IResourceBuilder<IResourceWithConnectionString> Redis) Add(
        IDistributedApplicationBuilder builder, string databaseName)
    {
        var database = builder.AddPostgres("postgres").WithDataVolume().AddDatabase(databaseName);
        var redis = builder.AddRedis("redis").WithDataVolume();
        return (database, redis);
    }
}
