using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The shape of the Aspire client integration <c>Aspire.StackExchange.Redis</c> (not served by the registry
/// here): reads <c>ConnectionStrings:{name}</c>, registers one shared <see cref="IConnectionMultiplexer"/> and a
/// health check. The multiplexer does not abort when Redis is down at start; it reconnects in the background.
/// </summary>
public static class RedisHostingExtensions
{
    public static void AddRedisClient(this IHostApplicationBuilder builder, string connectionName, Action<ConfigurationOptions>? configure = null)
    {
        var connectionString = NpgsqlHostingExtensions.ConnectionStringOf(builder.Configuration, connectionName);
        builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false;
            configure?.Invoke(options);
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>(connectionName);
    }
}

internal sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await redis.GetDatabase().PingAsync();
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, ex.Message, ex);
        }
    }
}
