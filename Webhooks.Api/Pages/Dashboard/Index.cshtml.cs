using Webhooks.Api.Dashboard;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard;

public sealed class IndexModel(WebhooksDbContext db, DashboardQueries queries) : DashboardPage(db)
{
    public DashboardQueries.Overview? Overview { get; private set; }

    public async Task OnGetAsync() => Overview = await queries.OverviewAsync(Caller, HttpContext.RequestAborted);
}
