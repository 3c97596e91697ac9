using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What the Aspire service-defaults template gives every service: OpenTelemetry over OTLP, health checks,
/// service discovery and standard HTTP resilience.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string MetricsEndpointPath = "/metrics";
    private const string LiveTag = "live";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>Names the sources and meters a service adds beside the defaults (its own spans and metrics).</summary>
    public static TBuilder AddTelemetrySources<TBuilder>(this TBuilder builder, params string[] names) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(names))
            .WithMetrics(metrics => metrics.AddMeter(names));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            // No scopes: ASP.NET Core's request scope carries the raw path, and paths can carry credentials (portal links).
            logging.IncludeScopes = false;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(o =>
                    o.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath) &&
                        !context.Request.Path.StartsWithSegments(AlivenessEndpointPath) &&
                        !context.Request.Path.StartsWithSegments(MetricsEndpointPath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    private static bool HasKey(HttpRequest request, string? key)
    {
        if (string.IsNullOrEmpty(key) || request.Headers.Authorization.ToString() is not { Length: > 7 } header
            || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var given = System.Text.Encoding.UTF8.GetBytes(header[7..].Trim());
        var expected = System.Text.Encoding.UTF8.GetBytes(key);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Security.Cryptography.SHA256.HashData(given), System.Security.Cryptography.SHA256.HashData(expected));
    }

    /// <summary>
    /// Runs the service until it is stopped. A stop (SIGTERM, Ctrl+C, the orchestrator's Stop) that arrives while the
    /// service is still starting (waiting for the database, migrating) cancels the start: that is a clean exit, not a
    /// crash with an unhandled exception and exit code 134 that an orchestrator would restart.
    /// </summary>
    public static void RunService(this WebApplication app)
    {
        // Taken before the run: Run disposes the host's services on its way out, and resolving the lifetime from them inside
        // the filter below would then throw, which a filter swallows as 'no match' (a stop during start then ended in 134).
        var lifetime = app.Lifetime;
        try
        {
            app.Run();
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// <c>/health</c>: every check (ready to take traffic); <c>/alive</c>: the process answers.
    /// Mapped in every environment: the AppHost and orchestrators probe them.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        // Pull-based metrics beside the OTLP push, for Prometheus and for a quick look with curl: only to the operator's key
        // (Metrics:ApiKey, else the admin key), as they name the database and count every route.
        var key = app.Configuration["Metrics:ApiKey"] is { Length: > 0 } metricsKey ? metricsKey : app.Configuration["Webhooks:AdminApiKey"];
        app.MapPrometheusScrapingEndpoint(MetricsEndpointPath).AddEndpointFilter(async (context, next) =>
            HasKey(context.HttpContext.Request, key) ? await next(context) : Results.Problem(statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized", detail: "Metrics answer only to the operator's key: 'Authorization: Bearer <Metrics:ApiKey or the admin key>'."));
        return app;
    }
}
