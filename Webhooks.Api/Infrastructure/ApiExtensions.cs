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
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Infrastructure;

public static class ApiExtensions
{
    public static WebApplicationBuilder AddWebhooksApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
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
        services.AddValidatorsFromAssemblyContaining<ApplicationInValidator>(includeInternalTypes: true);
        services.AddOptions<PublishOptions>().BindConfiguration("Webhooks").ValidateOnStart();
        services.AddScoped<MessagePublisher>();
        services.AddScoped<EndpointService>();
        services.AddScoped<ApplicationService>();
        // The same key the worker reads: the API reserves the uid of the application the worker sends operational events to.
        services.AddOptions<OperationalApplicationOptions>().BindConfiguration(OperationalApplicationOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddScoped<EventTypeService>();
        services.AddSingleton<PayloadSchemas>();
        // Tenants write the regular expressions of their schemas' 'pattern's: none may run away with a core.
        AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", TimeSpan.FromMilliseconds(200));
        services.AddSingleton<DispatchSignal>();

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 8 * 1024 * 1024);
        services.AddOpenApi();
        return builder;
    }

    public static WebApplication MapWebhooksApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference();
        var api = app.MapGroup("/api/v1").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapApplicationRoutes();
        api.MapEventTypeRoutes();
        api.MapEndpointRoutes();
        api.MapMessageRoutes();
        api.MapApiKeyRoutes();
        return app;
    }
}
