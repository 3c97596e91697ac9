using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Dashboard;

/// <summary>
/// A dashboard session opened by a portal link: one application's own users, without an API key. It carries the link's
/// id (re-checked in Postgres on every request), its application (the same claim an application key's session has, so
/// every page's tenant check applies unchanged) and the link's options.
/// </summary>
public sealed record PortalSession(string LinkId, string ApplicationId, bool ReadOnly, IReadOnlyList<string>? AllowedEventTypes)
{
    public const string LinkClaim = "webhooks:portal-link";
    public const string ReadOnlyClaim = "webhooks:portal-read-only";
    public const string EventTypeClaim = "webhooks:portal-event-type";

    /// <summary>The portal session of the signed-in user, or null for a session signed in with an API key.</summary>
    public static PortalSession? Of(ClaimsPrincipal user) =>
        user.FindFirstValue(LinkClaim) is { } linkId && user.FindFirstValue(ApiKeyAuthenticationHandler.ApplicationClaim) is { } applicationId
            ? new PortalSession(linkId, applicationId, user.HasClaim(ReadOnlyClaim, "true"),
                user.FindAll(EventTypeClaim).Select(c => c.Value).ToList() is { Count: > 0 } types ? types : null)
            : null;

    public static ClaimsPrincipal Principal(PortalLink link, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, link.Id),
            new(LinkClaim, link.Id),
            new(ApiKeyAuthenticationHandler.ApplicationClaim, link.ApplicationId),
            new(ReadOnlyClaim, link.ReadOnly ? "true" : "false"),
        };
        // A null item (stored before requests were checked for them) allows nothing: it is not a reason to fail the sign-in.
        claims.AddRange((link.AllowedEventTypes ?? []).OfType<string>().Select(t => new Claim(EventTypeClaim, t)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>Whether the session may see a message of this event type.</summary>
    public bool MaySee(string eventType) => AllowedEventTypes is null || AllowedEventTypes.Contains(eventType, StringComparer.Ordinal);

    /// <summary>
    /// Whether an endpoint may subscribe to these event types in this session: with allowed types, only to some of
    /// them (not to everything, which an empty list means).
    /// </summary>
    public bool MaySubscribe(IReadOnlyList<string>? eventTypes) =>
        AllowedEventTypes is null || (eventTypes is { Count: > 0 } && eventTypes.All(MaySee));

    public string SubscriptionRule => $"This session may subscribe endpoints only to: {string.Join(", ", AllowedEventTypes ?? [])}.";
}

/// <summary>
/// Refuses (403, before any handler runs) every form a portal session may not post: all of them in a read-only session,
/// the event-type catalogue's always (the platform defines event types, not its tenants' users). Signing out stays allowed.
/// </summary>
public sealed class PortalActionFilter : IAsyncPageFilter
{
    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var request = context.HttpContext.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method)
            && PortalSession.Of(context.HttpContext.User) is { } portal
            && context.ActionDescriptor.ViewEnginePath != "/Dashboard/SignOut"
            && (portal.ReadOnly || context.ActionDescriptor.ViewEnginePath.StartsWith("/Dashboard/EventTypes/", StringComparison.Ordinal)))
        {
            var metadata = context.HttpContext.RequestServices.GetRequiredService<Microsoft.AspNetCore.Mvc.ModelBinding.IModelMetadataProvider>();
            context.Result = new PartialViewResult
            {
                ViewName = "_Error",
                StatusCode = StatusCodes.Status403Forbidden,
                ViewData = new Microsoft.AspNetCore.Mvc.ViewFeatures.ViewDataDictionary<ErrorInfo>(metadata, context.ModelState)
                {
                    Model = new ErrorInfo(403, "Not allowed here",
                        portal.ReadOnly ? "This session is read-only." : "Event types are managed by the platform, not in a portal session."),
                },
            };
            return;
        }
        await next();
    }
}
