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

    /// <summary>The request to one endpoint, rebuilt to be sent again by hand (see <see cref="Reproduction"/>).</summary>
    public Reproduction? Replay { get; private set; }

    /// <summary>
    /// The request a delivery makes, as the endpoint's current settings build it (its format and transformation, its
    /// custom headers), signed now with its current secret: a <c>curl</c> to send it again (valid for the receiver's
    /// tolerance, 5 minutes by default), to the endpoint or to any URL.
    /// </summary>
    public sealed record Reproduction(string EndpointId, string Method, string Url, IReadOnlyList<(string Name, string Value)> Headers, string Body, string? Error)
    {
        public string Curl
        {
            get
            {
                static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
                var lines = new List<string> { $"curl -X {Method} {Quote(Url)}" };
                lines.AddRange(Headers.Select(h => $"  -H {Quote($"{h.Name}: {h.Value}")}"));
                lines.Add($"  --data-binary {Quote(Body)}");
                return string.Join(" \\\n", lines);
            }
        }
    }

    public async Task<IActionResult> OnGetAsync(string appId, string messageId, string? replay,
        [FromServices] Webhooks.Core.Data.SecretProtector secrets, [FromServices] TimeProvider time)
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
        // Not in a read-only session: a signed request is a resend by other means.
        if (replay is not null && Portal?.ReadOnly != true && Endpoints.GetValueOrDefault(replay) is { } endpoint)
        {
            Replay = Reproduce(Message, endpoint, secrets, time.GetUtcNow());
        }
        return Page();
    }

    private Reproduction Reproduce(Message message, Endpoint endpoint, Webhooks.Core.Data.SecretProtector secrets, DateTimeOffset now)
    {
        try
        {
            // A transformation runs under the same per-application gate as a preview: a page view cannot hog the API.
            var shaped = Transformations.ScriptGate.Run(Application!.Id, () => Webhooks.Core.Delivery.Transformation.Shape(endpoint.Format, endpoint.Transformation,
                message.EventType, message.CreatedAt, message.Payload, endpoint.Url, endpoint.Headers, raw: message.Raw));
            if (shaped.Cancel)
            {
                return new Reproduction(endpoint.Id, "POST", endpoint.Url, [], "", "The endpoint's transformation cancels this message: nothing would be sent.");
            }
            var timestamp = now.ToUnixTimeSeconds();
            var signature = Receiver.Sdk.SignatureScheme.Sign([Receiver.Sdk.WebhookSecret.Parse(secrets.Unprotect(endpoint.Secret))], message.Id, timestamp, shaped.Body);
            var headers = new List<(string, string)> { ("content-type", "application/json"), ("webhook-id", message.Id),
                ("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("webhook-signature", signature) };
            if (message.Raw)
            {
                headers.AddRange([("svix-id", message.Id), ("svix-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("svix-signature", signature)]);
            }
            // Custom headers as the attempt log shows them: a credential-like one keeps its name, not its value.
            headers.AddRange(shaped.Headers.Select(h => (h.Key, Webhooks.Core.Delivery.CustomHeaders.IsCredentialName(h.Key) ? "[redacted]" : h.Value)));
            return new Reproduction(endpoint.Id, shaped.Method, shaped.Url, headers, System.Text.Encoding.UTF8.GetString(shaped.Body), null);
        }
        catch (Exception ex) when (ex is Webhooks.Core.Delivery.TransformationException or Transformations.ScriptsBusyException)
        {
            return new Reproduction(endpoint.Id, "POST", endpoint.Url, [], "", ex.Message);
        }
        catch (Exception ex) when (ex is FormatException or System.Security.Cryptography.CryptographicException or InvalidOperationException)
        {
            // The secret cannot be read here (a key-ring mismatch): say so rather than fail the page.
            return new Reproduction(endpoint.Id, "POST", endpoint.Url, [], "", "The request cannot be rebuilt here: the endpoint's secret cannot be read by this server.");
        }
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
