using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Webhooks.Api.Dashboard;

namespace Webhooks.Api.Pages.Dashboard;

public sealed class SignOutModel : PageModel
{
    public IActionResult OnGet() => Redirect("/dashboard");

    public async Task<IActionResult> OnPostAsync()
    {
        var portal = PortalSession.Of(User) is not null;
        // A secret or result waiting to be shown once goes with the session.
        TempData.Clear();
        await HttpContext.SignOutAsync(DashboardExtensions.Scheme);
        await HttpContext.SignOutAsync(DashboardExtensions.PortalScheme);
        // A portal session has no API key to sign in with again.
        return Redirect(portal ? "/dashboard/portal" : "/dashboard/signin");
    }
}
