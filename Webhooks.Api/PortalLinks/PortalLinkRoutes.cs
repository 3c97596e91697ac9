using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.PortalLinks;

/// <summary>
/// Portal links: an application's key (or an admin key) gets a one-time URL that signs its tenant's own users in to the
/// dashboard, scoped to that application, for a short time, without an API key.
/// </summary>
public static class PortalLinkRoutes
{
    public static RouteGroupBuilder MapPortalLinkRoutes(this RouteGroupBuilder tenant)
    {
        var links = tenant.MapGroup("/portal-links").WithTags("Portal links");
        links.MapPost("/", CreateAsync).Validate<PortalLinkIn>();
        links.MapGet("/", ListAsync);
        links.MapDelete("/{linkId}", RevokeAsync);
        tenant.MapGet("/portal", GetSettings).WithTags("Portal links");
        tenant.MapPut("/portal", UpdateSettingsAsync).Validate<PortalSettingsIn>().WithTags("Portal links");
        return tenant;
    }

    internal static PortalSettingsOut SettingsOf(Application a) =>
        new(a.PortalFrameAncestors, a.PortalName, a.PortalLogoUrl, a.PortalAccentColor, a.PortalTheme ?? "light");

    private static Ok<PortalSettingsOut> GetSettings(Tenant tenant) => TypedResults.Ok(SettingsOf(tenant.Application));

    /// <summary>Replaces the application's portal settings (a field left out is cleared).</summary>
    private static async Task<Ok<PortalSettingsOut>> UpdateSettingsAsync(Tenant tenant, PortalSettingsIn input, WebhooksDbContext db, LookupCache cache,
        CancellationToken ct)
    {
        var application = tenant.Application;
        application.PortalFrameAncestors = input.FrameAncestors?.Select(o => o.ToLowerInvariant()).Distinct(StringComparer.Ordinal).ToArray() ?? [];
        application.PortalName = input.Name;
        application.PortalLogoUrl = input.LogoUrl;
        application.PortalAccentColor = input.AccentColor?.ToLowerInvariant();
        application.PortalTheme = input.Theme;
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return TypedResults.Ok(SettingsOf(application));
    }

    /// <summary>The dashboard path that redeems a token (the token follows it).</summary>
    public const string RedeemPath = "/dashboard/portal/";

    private static async Task<Results<Created<PortalLinkCreated>, ValidationProblem>> CreateAsync(
        Tenant tenant, PortalLinkIn? input, WebhooksDbContext db, IOptions<DashboardOptions> options, HttpContext http, CancellationToken ct)
    {
        if (input?.Embeddable == true && tenant.Application.PortalFrameAncestors.Length == 0 && options.Value.FrameAncestors.Length == 0)
        {
            // Asked for a frame no site may show: the browser would refuse it, after its load used up the link.
            return Problems.Invalid("embeddable",
                "No site may frame this application's portal: set its origins first (PUT /api/v1/apps/{app}/portal with 'frameAncestors').");
        }
        var lifetime = input?.ExpiresInSeconds ?? options.Value.PortalLinkLifetimeSeconds;
        var types = input?.AllowedEventTypes?.Distinct(StringComparer.Ordinal).ToArray();
        var created = await PortalLinkStore.CreateAsync(db, tenant.Application.Id, lifetime, input?.ReadOnly ?? false, types, ct);
        return TypedResults.Created($"/api/v1/apps/{tenant.Application.Id}/portal-links/{created.Id}",
            new PortalLinkCreated(created.Id, UrlOf(created.Token, options.Value, http), created.ExpiresAt));
    }

    /// <summary>The URL that redeems <paramref name="token"/>: on <c>Webhooks:Dashboard:PublicUrl</c>, else on the request's own origin.</summary>
    internal static string UrlOf(string token, DashboardOptions options, HttpContext http) => options.BaseUrl(http) + RedeemPath + token;

    private static async Task<Ok<ListResponse<PortalLinkOut>>> ListAsync(Tenant tenant, WebhooksDbContext db, CancellationToken ct)
    {
        // The newest links; older ones are of little use (none lasts more than a day).
        var links = await db.PortalLinks.AsNoTracking().Where(l => l.ApplicationId == tenant.Application.Id)
            .OrderByDescending(l => l.Id).Take(Paging.MaxLimit).ToListAsync(ct);
        return TypedResults.Ok(new ListResponse<PortalLinkOut>(
            links.Select(l => new PortalLinkOut(l.Id, l.ReadOnly, l.AllowedEventTypes, l.ExpiresAt, l.UsedAt, l.RevokedAt, l.CreatedAt)).ToList(),
            null, links.Count < Paging.MaxLimit));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        Tenant tenant, string linkId, WebhooksDbContext db, CancellationToken ct) =>
        // A malformed id (a NUL, say, which Postgres refuses) names no link.
        Core.Ids.IsValid(linkId, Core.Ids.PortalLink) && await PortalLinkStore.RevokeAsync(db, tenant.Application.Id, linkId, ct)
            ? TypedResults.NoContent()
            : Problems.NotFound($"Portal link '{linkId}'");
}
