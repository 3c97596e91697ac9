using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Endpoints;
using Webhooks.Api.Messages;
using Webhooks.Api.Transformations;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Pages.Dashboard.Endpoints;

/// <summary>One endpoint: health, stats, recent attempts, and every action on it, through the API's services.</summary>
// The test action waits for the worker's attempt, up to the endpoint's timeout: the longer deadline of the API's test route.
[Microsoft.AspNetCore.Http.Timeouts.RequestTimeout(Infrastructure.ApiExtensions.EndpointTestPolicy)]
public sealed class ShowModel(WebhooksDbContext db, EndpointService service) : DashboardPage(db)
{
    public Endpoint? Endpoint { get; private set; }
    public EndpointStatsOut? Stats { get; private set; }
    public IReadOnlyList<AttemptOut> Attempts { get; private set; } = [];
    public IReadOnlyList<EndpointEventOut> History { get; private set; } = [];
    public IReadOnlyList<string> EventTypeNames { get; private set; } = [];
    public EndpointForm Form { get; private set; } = new();
    public string? RotatedSecret { get; private set; }
    public EndpointTestOut? TestResult { get; private set; }
    public TransformationPreviewOut? Preview { get; private set; }
    public string? PreviewError { get; private set; }
    public string? PreviewMessageId { get; private set; }

    public async Task<IActionResult> OnGetAsync(string appId, string endpointId)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        // Each shown on the page of the endpoint it belongs to only (and dropped elsewhere).
        if (TempData[RotatedSecretKey] is string rotated && rotated.Split('|', 2) is [var rotatedFor, var secret] && rotatedFor == Endpoint!.Id)
        {
            RotatedSecret = secret;
        }
        if (TempData[RevealedSecretKey] is string revealed && revealed.Split('|', 2) is [var revealedFor, var current] && revealedFor == Endpoint!.Id)
        {
            RevealedSecret = current;
        }
        if (TempData[TestResultKey] is string test && test.Split('|') is [var testedFor, var messageId, var attemptId, var matched] && testedFor == Endpoint!.Id)
        {
            // Only ids travel in the cookie (a receiver's headers could make it larger than any request may carry).
            var attempt = await Db.DeliveryAttempts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == attemptId && a.EndpointId == Endpoint.Id, HttpContext.RequestAborted);
            TestResult = new EndpointTestOut(messageId, attempt?.ToOut(), matched.Length == 0 ? null : matched == "true");
        }
        return await ShowAsync();
    }

    public async Task<IActionResult> OnPostUpdateAsync(string appId, string endpointId, EndpointForm form, [FromServices] IValidator<EndpointUpdateIn> validator)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        if (Portal is not null)
        {
            // Not on a portal's form: the operator's values stay.
            form.CircuitBreakerThreshold = Endpoint!.CircuitBreakerThreshold?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            form.MaxInFlight = Endpoint.MaxInFlight?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            form.Ordering = Endpoint.Ordering == DeliveryOrdering.Fifo ? OrderingModes.Fifo : OrderingModes.None;
        }
        var input = form.ToUpdate(Endpoint!, ModelState);
        var result = input is null ? null : await validator.ValidateAsync(input, HttpContext.RequestAborted);
        if (input is null || !result!.IsValid || !MaySubscribe(input.EventTypes))
        {
            if (result is not null)
            {
                AddErrors(result);
            }
            var page = await ShowAsync();
            Form = form;
            return page;
        }
        if (await service.UpdateAsync(Endpoint!, input, HttpContext.RequestAborted) is { } errors)
        {
            AddErrors(errors);
            var page = await ShowAsync();
            Form = form;
            return page;
        }
        return Done("Settings saved.");
    }

    /// <summary>
    /// Runs the form's (unsaved) format and transformation against one of the application's messages, as the worker would,
    /// and shows what would be sent; the settings stay as typed, nothing is saved or sent.
    /// </summary>
    public async Task<IActionResult> OnPostPreviewAsync(string appId, string endpointId, EndpointForm form, string? previewMessageId,
        [FromServices] TransformationPreview preview)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        PreviewMessageId = previewMessageId?.Trim();
        var input = new TransformationPreviewIn(form.Transformation, string.IsNullOrWhiteSpace(form.Format) ? null : form.Format.Trim(),
            PreviewMessageId ?? "", Url: Endpoint!.Url, Headers: Endpoint.Headers);
        var message = await Db.Messages.AsNoTracking()
            .Where(m => m.Id == input.MessageId && m.ApplicationId == Application!.Id).Select(m => m.EventType).FirstOrDefaultAsync(HttpContext.RequestAborted);
        if (message is null || Portal?.MaySee(message) == false)
        {
            PreviewError = $"Message '{input.MessageId}' does not exist.";
        }
        else if (!Core.Delivery.ChatFormats.IsKnown(input.Format))
        {
            PreviewError = $"'format' must be one of: {string.Join(", ", Core.Delivery.ChatFormats.All)}.";
        }
        else
        {
            try
            {
                var (result, notFound, error) = await preview.RunAsync(Application!.Id, input, HttpContext.RequestAborted);
                (Preview, PreviewError) = (result, notFound is null ? error : $"{notFound} does not exist.");
            }
            catch (Transformations.ScriptsBusyException busy)
            {
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                Response.Headers.RetryAfter = "1";
                PreviewError = busy.Message;
            }
        }
        var page = await ShowAsync();
        Form = form;
        return page;
    }

    public async Task<IActionResult> OnPostDisableAsync(string appId, string endpointId)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        await service.DisableAsync(Endpoint!, "Disabled from the dashboard.", HttpContext.RequestAborted);
        return Done("Endpoint disabled: its deliveries are kept until it is enabled.");
    }

    public async Task<IActionResult> OnPostEnableAsync(string appId, string endpointId)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        await service.EnableAsync(Endpoint!, HttpContext.RequestAborted);
        return Done("Endpoint enabled: its waiting deliveries go now.");
    }

    public async Task<IActionResult> OnPostRotateAsync(string appId, string endpointId)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        // Shown once, after the redirect (a reload of the result neither rotates again nor shows it again).
        TempData[RotatedSecretKey] = Endpoint!.Id + "|" + (await service.RotateSecretAsync(Endpoint!, null, HttpContext.RequestAborted)).Key;
        return Done("Secret rotated.");
    }

    /// <summary>Shows the current signing secret once, after the redirect (so the receiver can be configured again).</summary>
    public async Task<IActionResult> OnPostRevealAsync(string appId, string endpointId)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        TempData[RevealedSecretKey] = Endpoint!.Id + "|" + service.SecretOf(Endpoint).Key;
        return Redirect($"/dashboard/apps/{Application!.Id}/endpoints/{Endpoint.Id}");
    }

    private const string RevealedSecretKey = "RevealedSecret";

    /// <summary>The current secret, revealed by request; shown once.</summary>
    public string? RevealedSecret { get; private set; }

    /// <summary>Deletes the endpoint: nothing more is sent to it; what is in flight finishes and is recorded.</summary>
    public async Task<IActionResult> OnPostDeleteAsync(string appId, string endpointId, [FromServices] TimeProvider time)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        await Db.DeleteAsync(Endpoint!, time.GetUtcNow(), HttpContext.RequestAborted);
        Notice = $"Endpoint {Endpoint!.Url} deleted.";
        return Redirect($"/dashboard/apps/{Application!.Id}");
    }

    private const string RotatedSecretKey = "RotatedSecret";
    private const string TestResultKey = "TestResult";

    public async Task<IActionResult> OnPostTestAsync(string appId, string endpointId, string? testEventType, string? testPayload,
        [FromServices] IValidator<EndpointTestIn> validator)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        var payload = FormJson(testPayload, "testPayload");
        if (!ModelState.IsValid)
        {
            return await ShowAsync();
        }
        var input = new EndpointTestIn(testEventType?.Trim() ?? "", payload);
        if (Portal is { } portal && !portal.MaySee(input.EventType))
        {
            ModelState.AddModelError("testEventType", portal.SubscriptionRule);
            var page = await ShowAsync();
            Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            return page;
        }
        var validation = await validator.ValidateAsync(input, HttpContext.RequestAborted);
        if (!validation.IsValid)
        {
            AddErrors(validation);
            return await ShowAsync();
        }
        if (Endpoint!.Disabled)
        {
            ModelState.AddModelError("", "The endpoint is disabled: enable it to send a test event.");
            return await ShowAsync();
        }
        var result = await service.TestAsync(Application!, Endpoint, input, HttpContext.RequestAborted);
        if (result.Rejected is { } rejected)
        {
            AddErrors(rejected);
        }
        if (result.Rejected is not null)
        {
            return await ShowAsync();
        }
        // The result is shown after the redirect: a reload does not send another test event.
        var sent = result.Sent!;
        TempData[TestResultKey] = string.Join('|', Endpoint.Id, sent.MessageId, sent.Attempt?.Id ?? "",
            sent.FilterMatched is { } matched ? (matched ? "true" : "false") : "");
        return Done("Test event sent.");
    }

    public async Task<IActionResult> OnPostRecoverAsync(string appId, string endpointId, string? since, [FromServices] IValidator<RecoverIn> validator)
    {
        if (!await LoadAsync(appId, endpointId))
        {
            return Missing($"Endpoint '{endpointId}'");
        }
        if (FormTime(since, "since", required: true) is not { } at)
        {
            return await ShowAsync();
        }
        var input = new RecoverIn(at);
        var validation = await validator.ValidateAsync(input, HttpContext.RequestAborted);
        if (!validation.IsValid)
        {
            AddErrors(validation);
            return await ShowAsync();
        }
        var requeued = await service.RecoverAsync(Endpoint!, input.Since, HttpContext.RequestAborted);
        return Done($"{requeued} failed or exhausted deliveries queued again.");
    }

    /// <summary>One line for a history entry, from what went with it.</summary>
    public static string Describe(EndpointEventOut entry)
    {
        string? Text(string name) => !entry.Data.TryGetProperty(name, out var value) ? null
            : value.ValueKind == System.Text.Json.JsonValueKind.String && value.TryGetDateTimeOffset(out var at) ? Display.Time(at)
            : value.ToString();
        return entry.Kind == EndpointEvent.CircuitOpenedKind
            ? $"{Text("consecutiveFailures")} failed attempts in a row; first probe at {Text("retryAt")}"
            : Text("reason") == "enabled" ? $"the endpoint was enabled (open since {Text("openedAt")})" : $"a delivery succeeded (open since {Text("openedAt")})";
    }

    private IActionResult Done(string notice)
    {
        Notice = notice;
        return Redirect($"/dashboard/apps/{Application!.Id}/endpoints/{Endpoint!.Id}");
    }

    private async Task<bool> LoadAsync(string appId, string endpointId)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return false;
        }
        Endpoint = await Db.Endpoints.FirstOrDefaultAsync(e => e.Id == endpointId && e.ApplicationId == Application!.Id, HttpContext.RequestAborted);
        // A portal session limited to some event types changes only endpoints within them (it may not disable, delete
        // or rotate one that also serves types it cannot see): to it, any other is not there for a change.
        if (Endpoint is not null && !HttpMethods.IsGet(Request.Method) && Portal is { AllowedEventTypes: not null } portal && !portal.MaySubscribe(Endpoint.EventTypes))
        {
            return false;
        }
        return Endpoint is not null;
    }

    private async Task<IActionResult> ShowAsync()
    {
        var ct = HttpContext.RequestAborted;
        Stats = await service.StatsAsync(Endpoint!, ct);
        var attempts = Db.DeliveryAttempts.Where(a => a.EndpointId == Endpoint!.Id);
        var eventTypes = Db.EventTypes.AsNoTracking().Where(t => t.ApplicationId == Application!.Id && !t.Archived);
        if (Portal?.AllowedEventTypes is { } allowed)
        {
            // A portal session restricted to some event types sees nothing of the others' messages.
            attempts = attempts.Where(a => Db.Messages.Any(m => m.Id == a.MessageId && allowed.Contains(m.EventType)));
            eventTypes = eventTypes.Where(t => allowed.Contains(t.Name));
        }
        Attempts = (await attempts.PageAsync(new AttemptQuery(Limit: 25), ct)).Data;
        EventTypeNames = await eventTypes.OrderBy(t => t.Name).Select(t => t.Name).Take(200).ToListAsync(ct);
        History = (await Db.EndpointEvents.Where(v => v.EndpointId == Endpoint!.Id).PageAsync(new HistoryQuery(Limit: 10), ct)).Data;
        Form = EndpointForm.Of(Endpoint!);
        return Page();
    }
}
