using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.Messages;

public sealed class IndexModel(WebhooksDbContext db, IValidator<MessageQuery> validator) : DashboardPage(db)
{
    public IReadOnlyList<MessageOut> Messages { get; private set; } = [];
    public string? Next { get; private set; }
    public string? EventType { get; private set; }
    public string? SinceText { get; private set; }
    public string? UntilText { get; private set; }

    public async Task<IActionResult> OnGetAsync(string appId, string? eventType, string? since, string? until, string? iterator)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        (EventType, SinceText, UntilText) = (string.IsNullOrWhiteSpace(eventType) ? null : eventType.Trim(), since, until);
        var query = new MessageQuery(EventType, null, FormTime(since, "since"), FormTime(until, "until"), 50, string.IsNullOrEmpty(iterator) ? null : iterator);
        var validation = await validator.ValidateAsync(query, HttpContext.RequestAborted);
        AddErrors(validation);
        if (!ModelState.IsValid)
        {
            return Page();
        }
        var messages = Db.Messages.Where(m => m.ApplicationId == Application!.Id);
        if (Portal?.AllowedEventTypes is { } allowed)
        {
            messages = messages.Where(m => allowed.Contains(m.EventType));
        }
        var page = await messages.PageAsync(query, HttpContext.RequestAborted);
        Messages = page.Data;
        Next = page.Done ? null : page.Iterator;
        return Page();
    }
}
