using Microsoft.AspNetCore.Mvc;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Sources;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.Sources;

/// <summary>One source: where its sender posts, and its log (what came in, what was published, what was refused and why).</summary>
public sealed class ShowModel(WebhooksDbContext db, SourceService service) : DashboardPage(db)
{
    public Source? Source { get; private set; }
    public string IngestUrl { get; private set; } = "";
    public ListResponse<SourceEventOut> Log { get; private set; } = new([], null, true);
    public string? Outcome { get; private set; }

    public async Task<IActionResult> OnGetAsync(string appId, string sourceId, string? outcome, string? before)
    {
        if (Portal is not null || !await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        Source = await Db.FindSourceAsync(Application!.Id, sourceId, HttpContext.RequestAborted);
        if (Source is null)
        {
            return Missing($"Source '{sourceId}'");
        }
        IngestUrl = service.IngestUrlOf(Source, HttpContext);
        // Unknown filter values and cursors are ignored, not errors: the page is reached by its own links.
        Outcome = outcome is SourceEventOutcomes.Published or SourceEventOutcomes.Duplicate or SourceEventOutcomes.Refused ? outcome : null;
        var cursor = long.TryParse(before, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) ? before : null;
        Log = await Db.SourceLogPageAsync(Source.Id, new SourceEventQuery(50, cursor, Outcome), HttpContext.RequestAborted);
        return Page();
    }
}
