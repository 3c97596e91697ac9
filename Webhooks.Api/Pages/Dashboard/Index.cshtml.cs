using Microsoft.AspNetCore.Mvc;
using Webhooks.Api.Dashboard;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard;

public sealed class IndexModel(WebhooksDbContext db, DashboardQueries queries) : DashboardPage(db)
{
    public DashboardQueries.Overview? Overview { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        // A portal session has one application: its page is its overview.
        if (Portal is { } portal)
        {
            return Redirect($"/dashboard/apps/{portal.ApplicationId}");
        }
        Overview = await queries.OverviewAsync(Caller, HttpContext.RequestAborted);
        return Page();
    }
}
