using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Webhooks.Api.Applications;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.PortalLinks;
using Webhooks.Core.Data;

namespace Webhooks.Api.Svix;

/// <summary>
/// Svix's API beside this one's, on the same services and engine: <c>/api/v1/app</c> (applications, endpoints, messages,
/// attempts), <c>/api/v1/event-type</c> and <c>/api/v1/auth/app-portal-access</c>, in Svix's shapes, errors, pagination
/// and idempotency, so Svix's SDKs work with only the server URL and the token changed. The token is an API key of this
/// server (an application's key stays inside its application). What Svix Cloud has and this server does not answers 501,
/// naming the call; anything else unknown under Svix's paths answers 404, both in Svix's error shape. See docs/svix.md.
/// </summary>
public static class SvixRoutes
{
    public const string Tag = "Svix";

    public static WebApplication MapSvixApi(this WebApplication app)
    {
        // Svix's SDKs check health without a token.
        app.MapGet("/api/v1/health", () => Results.NoContent()).AllowAnonymous().WithTags(Tag);

        var svix = app.MapGroup("/api/v1").RequireAuthorization().WithTags(Tag);
        var application = svix.MapGroup("/app/{" + Tenant.RouteParameter + "}").AddEndpointFilter<TenantFilter>();
        SvixApplications.Map(svix, application);
        SvixEndpoints.Map(application);
        SvixMessages.Map(application);
        SvixEventTypes.Map(svix);
        svix.MapGroup("/auth/app-portal-access/{" + Tenant.RouteParameter + "}").AddEndpointFilter<TenantFilter>()
            .MapPost("", PortalAccessAsync).WithMetadata(TenantMayBeCreated.Instance);

        foreach (var collection in SvixSurface.Collections.Where(c => c != "health"))
        {
            svix.Map($"/{collection}/{{**rest}}", Unsupported).ExcludeFromDescription();
        }
        return app;
    }

    /// <summary>
    /// Svix's app portal access: a portal link of this server (see <c>/api/v1/apps/{app}/portal-links</c>) as
    /// <c>{url, token}</c>. The URL signs the application's users in to this server's portal; it lasts <c>expiry</c>
    /// seconds (at most 24 h; default the server's portal link lifetime) and is used once. <c>readOnly</c>, or
    /// <c>capabilities</c> without a Manage or Create one, gives a session that may only look.
    /// </summary>
    private static async Task<IResult> PortalAccessAsync(
        Tenant tenant, SvixPortalAccessIn? input, WebhooksDbContext db, ApplicationService applications, IValidator<Client.ApplicationIn> validator,
        IOptions<DashboardOptions> options, HttpContext http, CancellationToken ct)
    {
        input ??= new SvixPortalAccessIn();
        if (input.Expiry is < 1 or > DashboardOptions.MaxPortalLinkLifetimeSeconds)
        {
            return SvixChecks.Invalid("expiry", $"'expiry' must be 1 to {DashboardOptions.MaxPortalLinkLifetimeSeconds} seconds (24 h) on this server.");
        }
        if (input.Capabilities?.FirstOrDefault(c => c is not ("ViewBase" or "ViewEndpointSecret" or "ManageEndpointSecret" or "ManageTransformations"
                or "CreateAttempts" or "ManageEndpoint")) is { } unknown)
        {
            return SvixChecks.Invalid("capabilities", $"Unknown capability '{unknown}'.");
        }
        var (application, refused) = await SvixApplications.FindOrCreateAsync(tenant, input.Application, applications, validator, db, ct);
        if (application is null)
        {
            return refused!;
        }
        var readOnly = input.ReadOnly == true ||
                       (input.Capabilities is { } capabilities && !capabilities.Any(c => c.StartsWith("Manage", StringComparison.Ordinal) || c == "CreateAttempts"));
        var created = await PortalLinkStore.CreateAsync(db, application.Id, (int)(input.Expiry ?? options.Value.PortalLinkLifetimeSeconds), readOnly, null, ct);
        return TypedResults.Ok(new SvixPortalAccessOut(PortalLinkRoutes.UrlOf(created.Token, options.Value, http), created.Token));
    }

    private sealed record Operation(string Methods, Regex Path, string Name);

    // Svix Cloud's calls this server does not implement, by method and path under /api/v1.
    private static readonly Operation[] CloudOnly =
    [
        new("POST", Op(@"app/[^/]+/endpoint/[^/]+/send-example"), "endpoint.sendExample"),
        new("GET", Op(@"app/[^/]+/endpoint/[^/]+/stats"), "endpoint.getStats"),
        new("GET PATCH", Op(@"app/[^/]+/endpoint/[^/]+/transformation"), "endpoint.transformationGet / transformationPartialUpdate"),
        new("POST", Op(@"app/[^/]+/endpoint/[^/]+/replay-missing"), "endpoint.replayMissing"),
        new("GET PUT PATCH DELETE", Op(@"app/[^/]+/endpoint/[^/]+/oauth"), "endpoint oauth"),
        new("GET", Op(@"app/[^/]+/endpoint/[^/]+/msg"), "messageAttempt.listAttemptedMessages"),
        new("GET", Op(@"app/[^/]+/msg/[^/]+/endpoint"), "messageAttempt.listAttemptedDestinations"),
        new("DELETE", Op(@"app/[^/]+/msg/[^/]+/content"), "message.expungeContent"),
        new("DELETE", Op(@"app/[^/]+/msg/[^/]+/endpoint/[^/]+/attempt/[^/]+/content"), "messageAttempt.expungeContent"),
        new("POST", Op(@"app/[^/]+/msg/precheck/active"), "message.precheck"),
        new("GET POST", Op(@"app/[^/]+/(poller|events|msg/events)(/.*)?"), "message.poller / events"),
        new("GET POST PUT PATCH DELETE", Op(@"app/[^/]+/integration(/.*)?"), "integration"),
        new("GET", Op(@"app/[^/]+/stats"), "statistics.aggregateAppStats"),
        new("POST", Op(@"event-type/import/openapi"), "eventType.importOpenapi"),
        new("POST", Op(@"event-type/schema/generate-example"), "eventType generateExample"),
        new("POST", Op(@"auth/(logout|dashboard-access/[^/]+|app/[^/]+/expire-all|stream-portal-access/[^/]+|app-portal-access/[^/]+/rotate-poller-token|one-time-token)"),
            "authentication (Svix Cloud session)"),
        new("GET POST PUT PATCH DELETE", Op(@"(environment|stats|operational-webhook|background-task|connector|message-poller)(/.*)?"),
            "Svix Cloud's environment, statistics, operational webhooks, background tasks and connectors"),
    ];

    private static Regex Op(string pattern) => new($"^{pattern}/?$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));

    private static IResult Unsupported(HttpContext http, EndpointDataSource endpoints)
    {
        var path = http.Request.Path.Value!["/api/v1/".Length..];
        var method = http.Request.Method;
        // A route of this surface that turned the request down (its method, or a body that is not JSON) is not a 404.
        if (SvixRouteMatchers(endpoints).Where(r => r.Matcher.TryMatch(http.Request.Path, [])).SelectMany(r => r.Methods).ToList() is { Count: > 0 } methods)
        {
            return methods.Contains(method, StringComparer.OrdinalIgnoreCase)
                ? TypedResults.Problem(statusCode: 415, detail: $"{method} /api/v1/{Template(path)} takes a JSON body: send it with 'content-type: application/json'.")
                : TypedResults.Problem(statusCode: 405, detail: $"/api/v1/{Template(path)} takes {string.Join(", ", methods.Distinct())}, not {method}.");
        }
        var operation = CloudOnly.FirstOrDefault(o => o.Methods.Split(' ').Contains(method, StringComparer.Ordinal) && o.Path.IsMatch(path));
        return operation is null
            ? TypedResults.Problem(statusCode: 404, detail: $"No Svix operation is {method} /api/v1/{Template(path)}.")
            : TypedResults.Problem(statusCode: 501,
                detail: $"Svix's {operation.Name} ({method} /api/v1/{Template(path)}) is not supported by this server (see 'Coming from Svix' in its README).");
    }

    private sealed record RouteMatcher(Microsoft.AspNetCore.Routing.Template.TemplateMatcher Matcher, IReadOnlyList<string> Methods);

    private static IReadOnlyList<RouteMatcher>? _matchers;

    /// <summary>The routes of this surface (not the catch-alls), as matchers of their templates, built once.</summary>
    private static IReadOnlyList<RouteMatcher> SvixRouteMatchers(EndpointDataSource endpoints) => _matchers ??= endpoints.Endpoints
        .OfType<RouteEndpoint>()
        .Where(e => e.Metadata.GetMetadata<ITagsMetadata>()?.Tags.Contains(Tag) == true && e.RoutePattern.Parameters.All(p => !p.IsCatchAll))
        .Select(e => new RouteMatcher(
            new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(new Microsoft.AspNetCore.Routing.Template.RouteTemplate(e.RoutePattern), []),
            e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []))
        .ToList();

    private static readonly string[] Collections = ["app", "endpoint", "msg", "attempt", "dashboard-access", "stream-portal-access", "app-portal-access"];

    /// <summary>The path with its ids and uids as <c>{id}</c>: the call is named without echoing what the caller sent.</summary>
    private static string Template(string path)
    {
        var parts = path.Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            if (Collections.Contains(parts[i - 1], StringComparer.Ordinal) && parts[i] is not ("precheck" or "events" or ""))
            {
                parts[i] = "{id}";
            }
        }
        return string.Join('/', parts);
    }
}
