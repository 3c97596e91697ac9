using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.Messages;

/// <summary>
/// An application's messages with what became of each: filtered by status, endpoint, event type and time, or found by
/// id, idempotency key or event id, with counts per status; the same query as <c>GET /api/v1/apps/{app}/messages</c>.
/// </summary>
public sealed class IndexModel(WebhooksDbContext db, IValidator<MessageQuery> validator) : DashboardPage(db)
{
    /// <summary>The counts per status cover this many of the newest messages that match.</summary>
    public const int CountCap = 10_000;

    public static readonly IReadOnlyList<(string Value, string Label, TimeSpan? Span)> Presets =
    [
        ("", "Any time", null), ("1h", "Last hour", TimeSpan.FromHours(1)), ("24h", "Last 24 hours", TimeSpan.FromDays(1)),
        ("7d", "Last 7 days", TimeSpan.FromDays(7)), ("custom", "Between…", null),
    ];

    public IReadOnlyList<MessageOut> Messages { get; private set; } = [];
    public string? Next { get; private set; }
    public string? Previous { get; private set; }
    public IReadOnlyDictionary<string, int> Counts { get; private set; } = new Dictionary<string, int>();
    public IReadOnlyList<(string Id, string Url)> Endpoints { get; private set; } = [];
    public IReadOnlyList<string> EventTypeNames { get; private set; } = [];
    public string? EventType { get; private set; }
    public string? Status { get; private set; }
    public string? EndpointId { get; private set; }
    public string? Search { get; private set; }
    public string? PayloadFilter { get; private set; }
    public string Range { get; private set; } = "";
    public string? SinceText { get; private set; }
    public string? UntilText { get; private set; }

    /// <summary>The current filters as a query string, with <paramref name="change"/> applied (a null value drops the key).</summary>
    public string Link(params (string Key, string? Value)[] change)
    {
        var values = new Dictionary<string, string?>
        {
            ["status"] = Status, ["endpointId"] = EndpointId, ["eventType"] = EventType, ["search"] = Search, ["payload"] = PayloadFilter, ["range"] = Range,
            ["since"] = Range == "custom" ? SinceText : null, ["until"] = Range == "custom" ? UntilText : null,
        };
        foreach (var (key, value) in change)
        {
            values[key] = value;
        }
        return "?" + string.Join("&", values.Where(v => !string.IsNullOrEmpty(v.Value)).Select(v => $"{v.Key}={Uri.EscapeDataString(v.Value!)}"));
    }

    public async Task<IActionResult> OnGetAsync(string appId, string? eventType, string? status, string? endpointId, string? search, string? payload,
        string? range, string? since, string? until, string? iterator, string? newerThan, [FromServices] TimeProvider time)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        (EventType, Status, EndpointId, Search, Range) = (Blank(eventType), Blank(status), Blank(endpointId), Blank(search), Blank(range) ?? "");
        PayloadFilter = Blank(payload);
        (SinceText, UntilText) = (since, until);
        DateTimeOffset? from = null, to = null;
        if (Presets.FirstOrDefault(p => p.Value == Range) is { Span: { } span })
        {
            from = time.GetUtcNow() - span;
        }
        else if (Range == "custom")
        {
            (from, to) = (FormTime(since, "since"), FormTime(until, "until"));
        }
        var query = new MessageQuery(EventType, null, from, to, 50, Blank(iterator), Status, EndpointId, Search, Blank(newerThan), PayloadFilter);
        AddErrors(await validator.ValidateAsync(query, HttpContext.RequestAborted));

        var ct = HttpContext.RequestAborted;
        var endpoints = Db.Endpoints.AsNoTracking().Where(e => e.ApplicationId == Application!.Id).OrderBy(e => e.Url);
        Endpoints = (await endpoints.Select(e => new { e.Id, e.Url }).Take(200).ToListAsync(ct)).Select(e => (e.Id, e.Url)).ToList();
        var types = Db.EventTypes.AsNoTracking().Where(t => (t.ApplicationId == Application!.Id || t.ApplicationId == null) && !t.Archived);
        if (Portal?.AllowedEventTypes is { } allowedTypes)
        {
            types = types.Where(t => allowedTypes.Contains(t.Name));
        }
        EventTypeNames = await types.Select(t => t.Name).Distinct().OrderBy(n => n).Take(500).ToListAsync(ct);
        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }
        var messages = Db.Messages.Where(m => m.ApplicationId == Application!.Id);
        if (Portal?.AllowedEventTypes is { } allowed)
        {
            messages = messages.Where(m => allowed.Contains(m.EventType));
        }
        var page = await messages.PageAsync(Db, query, ct);
        Messages = page.Data;
        Next = page.Done ? null : page.Iterator;
        // A page reached by going back, or any but the first: there are newer messages.
        Previous = Messages.Count > 0 && (query.Iterator is not null || (query.NewerThan is not null && !await IsNewestAsync(messages, query, Messages[0].Id)))
            ? Messages[0].Id
            : null;
        // Counting reads up to 10,000 matches: not with a payload search, which parses every payload it reads.
        Counts = query.PayloadFilter is null ? await messages.Filter(Db, query with { Status = null }).CountByStatusAsync(Db, CountCap, ct) : new Dictionary<string, int>();
        return Page();
    }

    private Task<bool> IsNewestAsync(IQueryable<Message> messages, MessageQuery query, string first) =>
        messages.Filter(Db, query).AllAsync(m => string.Compare(m.Id, first) <= 0, HttpContext.RequestAborted);
}
