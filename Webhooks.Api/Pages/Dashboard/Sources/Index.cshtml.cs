using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Sources;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.Sources;

/// <summary>An application's sources, with what each took and refused in the last 24 hours, and the form that creates one.</summary>
public sealed class IndexModel(WebhooksDbContext db, SourceService service, SourceTypeRegistry types) : DashboardPage(db)
{
    public sealed record Row(Source Source, string IngestUrl, long Published, long Refused);

    public IReadOnlyList<Row> Sources { get; private set; } = [];
    public IEnumerable<string> Types => types.Names;
    public SourceIn Form { get; private set; } = new("", SourceTypes.GitHub);

    /// <summary>The source just created and its secret, shown this once after the redirect.</summary>
    public (string Id, string Secret)? Created { get; private set; }

    private const string CreatedKey = "CreatedSource";

    public async Task<IActionResult> OnGetAsync(string appId)
    {
        if (Portal is not null || !await LoadApplicationAsync(appId))
        {
            // A tenant's portal shows what goes out to its endpoints; what the operator takes in is not its business.
            return Missing($"Application '{appId}'");
        }
        if (TempData[CreatedKey] is string created && created.Split('|', 2) is [var id, var secret])
        {
            Created = (id, secret);
        }
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string appId, string? name, string? type, string? secret, int? rateLimitPerSecond,
        [FromServices] IValidator<SourceIn> validator)
    {
        if (Portal is not null || !await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        var input = new SourceIn(name?.Trim() ?? "", type ?? "", string.IsNullOrWhiteSpace(secret) ? null : secret.Trim(), rateLimitPerSecond);
        if (ModelState.IsValid)
        {
            AddErrors(await validator.ValidateAsync(input, HttpContext.RequestAborted));
        }
        if (!ModelState.IsValid)
        {
            Form = input;
            Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            await LoadAsync();
            return Page();
        }
        var (source, plain) = await service.CreateAsync(Application!.Id, input, HttpContext.RequestAborted);
        // Post, redirect, get: a reload creates nothing more, and the secret is not in any URL.
        TempData[CreatedKey] = source.Id + "|" + plain;
        return Redirect($"/dashboard/apps/{Application.Id}/sources");
    }

    private async Task LoadAsync()
    {
        var sources = await Db.Sources.AsNoTracking().Where(s => s.ApplicationId == Application!.Id).OrderBy(s => s.Id).Take(200).ToListAsync(HttpContext.RequestAborted);
        var ids = sources.Select(s => s.Id).ToList();
        var since = DateTimeOffset.UtcNow.AddHours(-24);
        var counts = await Db.SourceEvents.AsNoTracking().Where(e => ids.Contains(e.SourceId) && e.ReceivedAt >= since)
            .GroupBy(e => new { e.SourceId, e.Outcome })
            .Select(g => new { g.Key.SourceId, g.Key.Outcome, Count = g.LongCount() })
            .ToListAsync(HttpContext.RequestAborted);
        // Duplicates are neither: a sender's repeat, answered 200, that published nothing.
        Sources = sources.Select(s => new Row(s, service.IngestUrlOf(s, HttpContext),
            counts.Where(c => c.SourceId == s.Id && c.Outcome == SourceEventOutcomes.Published).Sum(c => c.Count),
            counts.Where(c => c.SourceId == s.Id && c.Outcome == SourceEventOutcomes.Refused).Sum(c => c.Count))).ToList();
    }
}
