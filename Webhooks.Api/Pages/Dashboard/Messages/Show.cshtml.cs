using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Messages;
using Webhooks.Core.Data;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Pages.Dashboard.Messages;

/// <summary>One message: its payload and, per endpoint, every attempt with what came back; resend to one endpoint.</summary>
public sealed class ShowModel(WebhooksDbContext db, MessagePublisher publisher, IOptions<DashboardOptions> options) : DashboardPage(db)
{
    /// <summary>The trace viewer's page for an attempt's trace (<c>Webhooks:Dashboard:TraceUrlTemplate</c>), if one is set.</summary>
    public string? TraceUrl(string traceId) => options.Value.TraceUrl(traceId);

    public Message? Message { get; private set; }
    public IReadOnlyList<Delivery> Deliveries { get; private set; } = [];
    public IReadOnlyList<DeliveryAttempt> Attempts { get; private set; } = [];
    public IReadOnlyDictionary<string, Endpoint> Endpoints { get; private set; } = new Dictionary<string, Endpoint>();

    public async Task<IActionResult> OnGetAsync(string appId, string messageId)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        var ct = HttpContext.RequestAborted;
        Message = await Db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == messageId && m.ApplicationId == Application!.Id, ct);
        if (Message is null || Portal?.MaySee(Message.EventType) == false)
        {
            return Missing($"Message '{messageId}'");
        }
        Deliveries = await Db.Deliveries.AsNoTracking().Where(d => d.MessageId == messageId).OrderBy(d => d.Id).Take(200).ToListAsync(ct);
        Attempts = await Db.DeliveryAttempts.AsNoTracking().Where(a => a.MessageId == messageId).OrderBy(a => a.Id).Take(1000).ToListAsync(ct);
        var ids = Deliveries.Select(d => d.EndpointId).ToList();
        Endpoints = await Db.Endpoints.AsNoTracking().Where(e => ids.Contains(e.Id)).ToDictionaryAsync(e => e.Id, ct);
        return Page();
    }

    public async Task<IActionResult> OnPostResendAsync(string appId, string messageId, string endpointId)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        if (Portal?.AllowedEventTypes is { } allowed &&
            !await Db.Messages.AnyAsync(m => m.Id == messageId && m.ApplicationId == Application!.Id && allowed.Contains(m.EventType), HttpContext.RequestAborted))
        {
            return Missing($"Message '{messageId}'");
        }
        var (outcome, _) = await publisher.ResendAsync(Application!, messageId, endpointId, HttpContext.RequestAborted);
        Notice = outcome switch
        {
            MessagePublisher.ResendOutcome.Requeued => "Queued to be sent again now.",
            MessagePublisher.ResendOutcome.InFlight => "It is being attempted right now; try again in a moment.",
            _ => "No such delivery.",
        };
        return Redirect($"/dashboard/apps/{Application!.Id}/messages/{messageId}");
    }
}
