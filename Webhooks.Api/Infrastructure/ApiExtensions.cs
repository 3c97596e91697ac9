using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Json;
using Scalar.AspNetCore;
using Webhooks.Api.ApiKeys;
using Webhooks.Api.Applications;
using Webhooks.Api.Endpoints;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Messages;
using Webhooks.Api.PortalLinks;
using Webhooks.Api.Sources;
using Webhooks.Api.Svix;
using Webhooks.Api.Transformations;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Infrastructure;

public static class ApiExtensions
{
    public static WebApplicationBuilder AddWebhooksApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Before AddProblemDetails: the first writer that can write a problem writes it, and on Svix's paths it is this one.
        services.AddSingleton<IProblemDetailsWriter, Svix.SvixProblemWriter>();
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        // Binding failures throw, so the exception handler can answer with a problem naming the field.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.MaxDepth = 64;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();

        // Errors name fields as the JSON does: 'url', not 'Url'.
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        // Singletons: a validator builds its rules in its constructor, and none depends on anything scoped (per request,
        // building MessageInValidator was 5 % of the API's CPU under single publishes).
        services.AddValidatorsFromAssemblyContaining<ApplicationInValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        services.AddOptions<PublishOptions>().BindConfiguration("Webhooks").ValidateOnStart();
        services.AddScoped<MessagePublisher>();
        services.AddSingleton<PublishWriter>();
        services.AddScoped<EndpointService>();
        services.AddScoped<TransformationPreview>();
        services.AddScoped<ApplicationService>();
        services.AddSingleton<SourceType, GitHubSource>();
        services.AddSingleton<SourceType, StripeSource>();
        services.AddSingleton<SourceType, StandardWebhooksSource>();
        services.AddSingleton<SourceTypeRegistry>();
        services.AddSingleton<IngestLimits>();
        services.AddScoped<SourceService>();
        // The same key the worker reads: the API reserves the uid of the application the worker sends operational events to.
        services.AddOptions<OperationalApplicationOptions>().BindConfiguration(OperationalApplicationOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddScoped<EventTypeService>();
        services.AddSingleton<PayloadSchemas>();
        services.AddSingleton<LookupCache>();
        services.AddHostedService<LookupCacheSubscription>();
        // Tenants write the regular expressions of their schemas' 'pattern's: none may run away with a core.
        AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", TimeSpan.FromMilliseconds(200));
        services.AddSingleton<DispatchSignal>();
        services.AddSingleton(sp => new Webhooks.Core.Hosting.DependencyOutages(sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(),
            postgresImpact: "Requests that need it answer 503 with Retry-After",
            redisImpact: "Publishes are stored as usual; workers find them by polling"));
        services.AddHostedService<Webhooks.Core.Hosting.RedisOutageWatch>();
        // No request waits on a stalled database for long: past the deadline it is answered 503 (problem details),
        // never left hanging. A publish cut off there either committed or did not; its idempotency key makes the retry safe.
        var deadline = builder.Configuration.GetValue("Webhooks:Api:RequestTimeoutSeconds", 10.0);
        services.AddRequestTimeouts(o =>
        {
            o.DefaultPolicy = new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(deadline),
                TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
                WriteTimeoutResponse = WriteUnavailableAsync,
            };
            // The endpoint test waits for the worker's attempt, up to the endpoint's own timeout (at most 60 s) plus 5 s.
            o.AddPolicy(EndpointTestPolicy, new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(75),
                TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
                WriteTimeoutResponse = WriteUnavailableAsync,
            });
        });

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 8 * 1024 * 1024);
        services.AddOpenApi();
        return builder;
    }

    /// <summary>The request-timeout policy of the routes that wait for a worker's attempt.</summary>
    public const string EndpointTestPolicy = "endpoint-test";

    /// <summary>Past the deadline: the same 503 problem, with Retry-After, as any other database outage.</summary>
    private static Task WriteUnavailableAsync(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "5";
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = ProblemExceptionHandler.Unavailable(),
        }).AsTask();
    }

    /// <summary>
    /// An API or dashboard request (each checks its key or session in Postgres) answered without a server error means
    /// Postgres answered: the outage log gets its closing line. Health and other probes do not count.
    /// </summary>
    public static WebApplication UseOutageRecovery(this WebApplication app)
    {
        var outages = app.Services.GetRequiredService<Webhooks.Core.Hosting.DependencyOutages>();
        app.Use(async (context, next) =>
        {
            await next(context);
            if (context.Response.StatusCode is < 500 and not 401 &&
                (context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/dashboard")))
            {
                outages.Postgres.Recovered();
            }
        });
        return app;
    }

    public static WebApplication MapWebhooksApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference();
        var api = app.MapGroup("/api/v1").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        // Everything under /apps/{appId} is behind the tenant filter: a route cannot forget the tenant check.
        var tenant = api.MapGroup("/apps/{" + Tenant.RouteParameter + "}").AddEndpointFilter<TenantFilter>();
        api.MapApplicationRoutes(tenant);
        tenant.MapEventTypeRoutes();
        tenant.MapEndpointRoutes();
        tenant.MapTransformationRoutes();
        tenant.MapMessageRoutes();
        tenant.MapPortalLinkRoutes();
        tenant.MapSourceRoutes();
        api.MapApiKeyRoutes();
        app.MapSvixApi();
        app.MapIngest();
        return app;
    }
}
