using Webhooks.Core.Data;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// The application (tenant) of an <c>/apps/{appId}</c> route, looked up once per request by id or uid. Every route of
/// that group is behind <see cref="TenantFilter"/>, so a route cannot forget the tenant check: an application the
/// caller may not see answers 404 (its existence is not disclosed) before any handler runs.
/// </summary>
public sealed class Tenant
{
    public const string RouteParameter = "appId";
    private readonly Application? _application;

    private Tenant(string idOrUid, Application? application, ApiCaller caller)
    {
        IdOrUid = idOrUid;
        _application = application;
        Caller = caller;
    }

    /// <summary>The application as the route named it (id or uid).</summary>
    public string IdOrUid { get; }

    public ApiCaller Caller { get; }

    public bool Found => _application is not null;

    /// <summary>The application; always there in a handler, since <see cref="TenantFilter"/> answered 404 otherwise.</summary>
    public Application Application => _application ?? throw new InvalidOperationException("The tenant filter lets no request through without its application.");

    /// <summary>Minimal API binding: the same lookup the filter made (cached for the request).</summary>
    public static ValueTask<Tenant> BindAsync(HttpContext context) => ResolveAsync(context);

    internal static async ValueTask<Tenant> ResolveAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(typeof(Tenant), out var cached) && cached is Tenant known)
        {
            return known;
        }
        var idOrUid = context.GetRouteValue(RouteParameter) as string ?? "";
        var caller = ApiCaller.From(context.User);
        var db = context.RequestServices.GetRequiredService<WebhooksDbContext>();
        // A route that only reads the application (publishing) takes it from the lookup cache, untracked and shared; the
        // others load it for their request, tracked, since they may change it.
        var application = context.GetEndpoint()?.Metadata.GetMetadata<CachedTenant>() is not null
            ? await db.FindApplicationAsync(caller, idOrUid, context.RequestServices.GetRequiredService<LookupCache>(), context.RequestAborted)
            : await db.FindApplicationAsync(caller, idOrUid, context.RequestAborted);
        var tenant = new Tenant(idOrUid, application, caller);
        context.Items[typeof(Tenant)] = tenant;
        return tenant;
    }
}

/// <summary>Answers 404 for an <c>/apps/{appId}</c> route whose application does not exist or is another tenant's.</summary>
public sealed class TenantFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var tenant = await Tenant.ResolveAsync(context.HttpContext);
        return tenant.Found || context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<TenantMayBeCreated>() is not null
            ? await next(context)
            : Problems.NotFound($"Application '{tenant.IdOrUid}'");
    }
}

/// <summary>
/// Marks a route that only reads its <see cref="Tenant"/>'s application (never changes it): the application comes from the
/// <see cref="LookupCache"/> (publishing looks it up thousands of times a second).
/// </summary>
public sealed class CachedTenant
{
    public static readonly CachedTenant Instance = new();

    private CachedTenant()
    {
    }
}

/// <summary>
/// Marks a route that creates its application when the path names none (Svix's upsert, and a message or portal access
/// with an <c>application</c>): the tenant filter lets it through with <see cref="Tenant.Found"/> false, and the route
/// answers 404 itself unless it creates the application (an admin key only).
/// </summary>
public sealed class TenantMayBeCreated
{
    public static readonly TenantMayBeCreated Instance = new();

    private TenantMayBeCreated()
    {
    }
}
