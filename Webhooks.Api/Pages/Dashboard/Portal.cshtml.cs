using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Webhooks.Api.Dashboard;
using Webhooks.Api.PortalLinks;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard;

/// <summary>
/// Redeems a portal link (<c>/dashboard/portal/{token}</c>): once, then a session scoped to the link's application opens
/// on its own cookie and lasts until the link expires or is revoked. Without a valid token: 403 and a page saying so.
/// </summary>
public sealed class PortalModel(WebhooksDbContext db, Microsoft.Extensions.Options.IOptions<DashboardOptions> options) : PageModel
{
    /// <summary>Why the link was not redeemed, when it could have been.</summary>
    public string? Refusal { get; private set; }

    /// <summary>The origin of the page that framed this request (its Referer), unless it is this site.</summary>
    private string? FramedBy()
    {
        if (!Uri.TryCreate(Request.Headers.Referer.ToString(), UriKind.Absolute, out var referer))
        {
            return null;
        }
        var origin = referer.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
        return string.Equals(origin, $"{Request.Scheme}://{Request.Host}", StringComparison.OrdinalIgnoreCase) ? null : origin;
    }

    /// <summary>Whether <paramref name="origin"/> is one of <paramref name="allowed"/> (where <c>https://*.example.com</c> takes any subdomain).</summary>
    internal static bool MayFrame(string origin, IEnumerable<string> allowed) =>
        allowed.Select(a => a.TrimEnd('/').ToLowerInvariant()).Any(a =>
            a == origin ||
            (a.Contains("://*.", StringComparison.Ordinal) && a.Split("://*.") is [var scheme, var suffix] &&
             origin.StartsWith(scheme + "://", StringComparison.Ordinal) && origin.EndsWith("." + suffix, StringComparison.Ordinal)));

    public async Task<IActionResult> OnGetAsync(string? token)
    {
        // The token must not travel further: not in a Referer, not in a cache.
        Response.Headers["Referrer-Policy"] = "no-referrer";
        Response.Headers.CacheControl = "no-store";
        if (token is not null && await PortalLinkStore.PeekAsync(db, token, HttpContext.RequestAborted) is { } application)
        {
            HttpContext.Items[DashboardExtensions.FrameAncestorsItem] = application.PortalFrameAncestors;
            // Loaded in a frame of a site that may not frame it: the browser will not show it, so the link is not used up.
            if (Request.Headers["Sec-Fetch-Dest"] == "iframe" && FramedBy() is { } embedder &&
                !MayFrame(embedder, options.Value.FrameAncestors.Concat(application.PortalFrameAncestors)))
            {
                Refusal = $"This page cannot be shown inside {embedder}: that site is not among the ones allowed to embed it. The link was not used.";
                Response.StatusCode = StatusCodes.Status403Forbidden;
                return Page();
            }
        }
        var link = token is null ? null : await PortalLinkStore.RedeemAsync(db, token, HttpContext.RequestAborted);
        if (link is null)
        {
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Page();
        }
        await HttpContext.SignInAsync(DashboardExtensions.PortalScheme, PortalSession.Principal(link, DashboardExtensions.PortalScheme),
            new AuthenticationProperties { ExpiresUtc = link.ExpiresAt, IsPersistent = false, AllowRefresh = false });
        return Redirect($"/dashboard/apps/{link.ApplicationId}");
    }
}
