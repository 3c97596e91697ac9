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
        await HttpContext.SignOutAsync(DashboardExtensions.Scheme);
        return Redirect("/dashboard/signin");
    }
}
