using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

/// <summary>Verifies one webhook request and dispatches it to its typed handler.</summary>
public sealed partial class WebhookReceiver
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IOptionsMonitor<WebhookReceiverOptions> _options;
    private readonly IWebhookReplayStore _replay;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookReceiver> _logger;
    private readonly Dictionary<string, WebhookHandlerRegistration> _handlers;
    private volatile ParsedSecrets _secrets;

    private sealed record ParsedSecrets(WebhookReceiverOptions Source, IReadOnlyList<WebhookSecret> Secrets, WebhookReceiverOptions? Rejected = null);

    internal WebhookReceiver(
        IOptionsMonitor<WebhookReceiverOptions> options,
        IWebhookReplayStore replay,
        TimeProvider time,
        ILogger<WebhookReceiver> logger,
        IEnumerable<WebhookHandlerRegistration> registrations)
    {
        _options = options;
        _replay = replay;
        _time = time;
        _logger = logger;
        _handlers = new Dictionary<string, WebhookHandlerRegistration>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (!_handlers.TryAdd(registration.EventType, registration))
            {
                throw new InvalidOperationException(
                    $"Two webhook handlers are registered for '{registration.EventType}': {_handlers[registration.EventType].HandlerType.Name} and {registration.HandlerType.Name}.");
            }
        }
        _secrets = Parse(options.CurrentValue);
    }

    /// <summary>
    /// How long a request for an id that another request is handling is asked to wait. The delivery engine waits
    /// the longer of this and its own schedule (whose shortest retry delay is 5 s), so it never delays a retry
    /// there; a sender that follows <c>Retry-After</c> comes back about when a typical handler has finished.
    /// </summary>
    public static readonly TimeSpan InProgressRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Handles one request: verify, de-duplicate, dispatch, answer.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        var id = Header(request, "webhook-id", "svix-id");
        Outcome outcome;
        try
        {
            outcome = await HandleCoreAsync(context, id).ConfigureAwait(false);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            outcome = Disconnected;
        }
        context.Response.StatusCode = outcome.Status;
        if (outcome.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (outcome.Detail is not null && !context.RequestAborted.IsCancellationRequested)
        {
            await Results.Problem(detail: outcome.Detail, statusCode: outcome.Status, title: outcome.Title).ExecuteAsync(context).ConfigureAwait(false);
        }
        LogWebhook(id ?? "-", outcome.EventType ?? "-", outcome.Title, outcome.Status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>The settings in force: the current ones, or after a malformed reload the last valid ones.</summary>
    private (WebhookReceiverOptions Options, IReadOnlyList<WebhookSecret> Secrets) Current()
    {
        var current = _options.CurrentValue;
        var known = _secrets;
        if (ReferenceEquals(known.Source, current) || ReferenceEquals(known.Rejected, current))
        {
            return (known.Source, known.Secrets);
        }
        var validation = WebhookReceiverOptionsValidator.Validate(current);
        if (validation.Failed)
        {
            LogInvalidReload(validation.FailureMessage);
            _secrets = known with { Rejected = current };
            return (known.Source, known.Secrets);
        }
        _secrets = Parse(current);
        return (current, _secrets.Secrets);
    }

    private readonly record struct Outcome(int Status, string Title, string? Detail = null, string? EventType = null, TimeSpan? RetryAfter = null);

    // The sender went away (its timeout, or a dropped connection): no answer reaches it, so it retries. 499 is
    // only what the log shows.
    private static readonly Outcome Disconnected = new(499, "sender disconnected");

    private async Task<Outcome> HandleCoreAsync(HttpContext context, string? id)
    {
        var (options, secrets) = Current();
        var request = context.Request;
        var timestampHeader = Header(request, "webhook-timestamp", "svix-timestamp");
        var signatureHeader = Header(request, "webhook-signature", "svix-signature");
        var tolerance = TimeSpan.FromSeconds(options.ToleranceSeconds);

        // What needs no body is checked first, so a request that fails it costs no buffer and is not waited for.
        var headers = SignatureScheme.CheckHeaders(id, timestampHeader, signatureHeader, _time.GetUtcNow(), tolerance, out _);
        if (headers != VerificationResult.Valid)
        {
            return Refused(headers, options);
        }
        if (request.ContentLength > options.MaxBodyBytes)
        {
            return TooLarge(options);
        }

        RequestBody? body;
        try
        {
            body = await ReadBodyAsync(context, options.MaxBodyBytes).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel's own refusals while reading: a body arriving too slowly (408, retried), a truncated one (400).
            return new Outcome(ex.StatusCode, "bad body", ex.Message);
        }
        if (body is null)
        {
            return TooLarge(options);
        }
        using (body)
        {
            VerificationResult verification;
            using (var verify = WebhookReceiverTelemetry.Source.StartActivity("webhook verify"))
            {
                verify?.SetTag("webhook.id", id);
                verification = SignatureScheme.Verify(
                    secrets, id, timestampHeader, signatureHeader, body.Span, _time.GetUtcNow(), tolerance);
                verify?.SetTag("webhook.verification", verification.ToString());
                if (verification != VerificationResult.Valid)
                {
                    verify?.SetStatus(ActivityStatusCode.Error, verification.ToString());
                }
            }
            if (verification != VerificationResult.Valid)
            {
                return Refused(verification, options);
            }
            return await ParseAndDispatchAsync(context, body, id!, timestampHeader!, options).ConfigureAwait(false);
        }
    }

    private async Task<Outcome> ParseAndDispatchAsync(HttpContext context, RequestBody body, string id, string timestampHeader, WebhookReceiverOptions options)
    {
        JsonDocument document;
        try
        {
            // The document reads the pooled buffer in place: it is disposed before the buffer is returned.
            document = JsonDocument.Parse(body.Memory);
        }
        catch (JsonException)
        {
            return new Outcome(StatusCodes.Status400BadRequest, "malformed body", "The body is not JSON.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object ||
                !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                return new Outcome(StatusCodes.Status400BadRequest, "malformed body", "The body must be an object with a string 'type' and a 'data'.");
            }
            if (!root.TryGetProperty("data", out var data))
            {
                if (!options.AcceptUnwrappedBodies)
                {
                    return new Outcome(StatusCodes.Status400BadRequest, "malformed body",
                        "The body must be an object with a string 'type' and a 'data' (set AcceptUnwrappedBodies to take Svix-style bodies whole).");
                }
                // Svix style: the payload is the body, and names its own type.
                data = root;
            }
            var eventType = typeElement.GetString()!;
            if (!_handlers.TryGetValue(eventType, out var registration))
            {
                return new Outcome(options.UnknownEventTypeStatusCode, "unhandled", EventType: eventType);
            }
            WebhookHandlerCall call;
            try
            {
                call = registration.Bind(data, Json);
            }
            catch (JsonException ex)
            {
                return new Outcome(StatusCodes.Status400BadRequest, "malformed data", $"The data does not fit {registration.HandlerType.Name}: {ex.Message}", eventType);
            }
            // CheckHeaders accepted the timestamp, so it parses.
            var timestamp = long.Parse(timestampHeader, System.Globalization.CultureInfo.InvariantCulture);
            var webhook = new WebhookContext(id, DateTimeOffset.FromUnixTimeSeconds(timestamp), eventType, context);
            return await DispatchAsync(context, call, webhook, options).ConfigureAwait(false);
        }
    }

    private async Task<Outcome> DispatchAsync(HttpContext context, WebhookHandlerCall call, WebhookContext webhook, WebhookReceiverOptions options)
    {
        // An older replay is refused by its timestamp, so ids need remembering at least this long; stores keep
        // them longer, to cover the sender's retries.
        var replayWindow = TimeSpan.FromSeconds(options.ToleranceSeconds * 2 + 60);
        var (id, eventType) = (webhook.Id, webhook.EventType);
        var ct = context.RequestAborted;
        ReplayClaim claim;
        try
        {
            claim = await _replay.TryClaimAsync(id, replayWindow, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            LogReplayStoreFailed(ex, id, eventType);
            return new Outcome(StatusCodes.Status500InternalServerError, "replay store failed", "The receiver could not check this webhook for replays; retry later.", eventType);
        }
        switch (claim)
        {
            case ReplayClaim.AlreadyHandled:
                return new Outcome(StatusCodes.Status200OK, "duplicate", EventType: eventType);
            case ReplayClaim.InProgress:
                return new Outcome(StatusCodes.Status503ServiceUnavailable, "in progress", "This webhook is being handled by another request; retry later.", eventType, InProgressRetryAfter);
        }
        using var handle = WebhookReceiverTelemetry.Source.StartActivity("webhook handle");
        handle?.SetTag("webhook.id", id);
        handle?.SetTag("webhook.event_type", eventType);
        try
        {
            await call(context.RequestServices, webhook, ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            handle?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            // Whatever the handler threw (its own JsonException or OperationCanceledException included), the id is
            // not handled: released, so the sender's retry runs the handler again.
            await ReleaseAsync(id, eventType).ConfigureAwait(false);
            if (ct.IsCancellationRequested)
            {
                return Disconnected with { EventType = eventType };
            }
            LogHandlerFailed(ex, id, eventType);
            return new Outcome(StatusCodes.Status500InternalServerError, "handler failed", "The handler failed; retry later.", eventType);
        }
        try
        {
            await _replay.CompleteAsync(id, replayWindow, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The handler succeeded: answering 2xx is right. Only a later replay might run it again.
            LogReplayStoreFailed(ex, id, eventType);
        }
        return new Outcome(StatusCodes.Status204NoContent, "handled", EventType: eventType);
    }

    private async Task ReleaseAsync(string id, string eventType)
    {
        try
        {
            await _replay.ReleaseAsync(id, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The claim then expires by itself; until it does, retries are answered 503.
            LogReplayStoreFailed(ex, id, eventType);
        }
    }

    private static Outcome Refused(VerificationResult verification, WebhookReceiverOptions options) => verification switch
    {
        VerificationResult.MissingHeaders => new Outcome(StatusCodes.Status401Unauthorized, "unsigned", "The webhook-id, webhook-timestamp and webhook-signature headers are required."),
        VerificationResult.InvalidTimestamp => new Outcome(StatusCodes.Status400BadRequest, "bad timestamp", $"The webhook-timestamp is not within {options.ToleranceSeconds} s of now."),
        _ => new Outcome(StatusCodes.Status401Unauthorized, "bad signature", "No signature matches."),
    };

    private static Outcome TooLarge(WebhookReceiverOptions options) =>
        new(StatusCodes.Status413PayloadTooLarge, "too large", $"The body exceeds {options.MaxBodyBytes} bytes.");

    private static async Task<RequestBody?> ReadBodyAsync(HttpContext context, long max)
    {
        // Kestrel enforces the limit too, on chunked bodies as well; the reader stops at it in any case.
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = max;
        }
        try
        {
            return await RequestBody.ReadAsync(context.Request.Body, max, context.RequestAborted).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
    }

    private static string? Header(HttpRequest request, string name, string alias)
    {
        var value = request.Headers[name];
        if (value.Count == 0)
        {
            value = request.Headers[alias];
        }
        return value.Count == 0 ? null : value.ToString();
    }

    private static ParsedSecrets Parse(WebhookReceiverOptions options) =>
        new(options, options.Secrets.Select(s => WebhookSecret.TryParse(s, out var secret, out _) ? secret : null).OfType<WebhookSecret>().ToArray());

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} {EventType}: {Outcome} ({StatusCode}) in {ElapsedMs:0.0} ms")]
    private partial void LogWebhook(string webhookId, string eventType, string outcome, int statusCode, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "The reloaded webhook receiver settings are invalid; the last valid ones stay in use: {Reason}")]
    private partial void LogInvalidReload(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId} {EventType}: the replay store failed")]
    private partial void LogReplayStoreFailed(Exception exception, string webhookId, string eventType);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId} {EventType}: the handler threw")]
    private partial void LogHandlerFailed(Exception exception, string webhookId, string eventType);
}
