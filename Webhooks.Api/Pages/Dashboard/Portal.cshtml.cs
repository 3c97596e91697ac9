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
public sealed class PortalModel(WebhooksDbContext db) : PageModel
{
    public async Task<IActionResult> OnGetAsync(string? token)
    {
        // The token must not travel further: not in a Referer, not in a cache.
        Response.Headers["Referrer-Policy"] = "no-referrer";
        Response.Headers.CacheControl = "no-store";
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
