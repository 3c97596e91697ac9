using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard;

public sealed class SignInModel(WebhooksDbContext db, IConfiguration configuration) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(string? key)
    {
        var found = key is null ? null : await Infrastructure.ApiKeys.FindAsync(key.Trim(), configuration, db, HttpContext.RequestAborted);
        if (found is null)
        {
            ModelState.AddModelError("key", "The key is unknown or revoked.");
            return Page();
        }
        await HttpContext.SignInAsync(DashboardExtensions.Scheme, Infrastructure.ApiKeys.Principal(found.KeyId, found.ApplicationId, DashboardExtensions.Scheme));
        return LocalRedirect(ReturnUrl is { } url && Url.IsLocalUrl(url) && url.StartsWith("/dashboard", StringComparison.Ordinal) ? url : "/dashboard");
    }
}
