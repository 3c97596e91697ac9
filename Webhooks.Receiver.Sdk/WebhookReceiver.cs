using System.Buffers;
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

    /// <summary>Handles one request: verify, de-duplicate, dispatch, answer.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        var id = Header(request, "webhook-id", "svix-id");
        var outcome = await HandleCoreAsync(context, id);
        context.Response.StatusCode = outcome.Status;
        if (outcome.Detail is not null)
        {
            await Results.Problem(detail: outcome.Detail, statusCode: outcome.Status, title: outcome.Title).ExecuteAsync(context);
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

    private readonly record struct Outcome(int Status, string Title, string? Detail = null, string? EventType = null);

    private async Task<Outcome> HandleCoreAsync(HttpContext context, string? id)
    {
        var (options, secrets) = Current();
        var request = context.Request;

        if (request.ContentLength > options.MaxBodyBytes || await ReadBodyAsync(context, options.MaxBodyBytes) is not { } body)
        {
            return new Outcome(StatusCodes.Status413PayloadTooLarge, "too large", $"The body exceeds {options.MaxBodyBytes} bytes.");
        }

        var timestampHeader = Header(request, "webhook-timestamp", "svix-timestamp");
        var verification = SignatureScheme.Verify(
            secrets, id, timestampHeader, Header(request, "webhook-signature", "svix-signature"),
            body.WrittenSpan, _time.GetUtcNow(), TimeSpan.FromSeconds(options.ToleranceSeconds));
        switch (verification)
        {
            case VerificationResult.MissingHeaders:
                return new Outcome(StatusCodes.Status401Unauthorized, "unsigned", "The webhook-id, webhook-timestamp and webhook-signature headers are required.");
            case VerificationResult.InvalidSignature:
                return new Outcome(StatusCodes.Status401Unauthorized, "bad signature", "No signature matches.");
            case VerificationResult.InvalidTimestamp:
                return new Outcome(StatusCodes.Status400BadRequest, "bad timestamp", $"The webhook-timestamp is not within {options.ToleranceSeconds} s of now.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.WrittenMemory);
        }
        catch (JsonException)
        {
            return new Outcome(StatusCodes.Status400BadRequest, "malformed body", "The body is not JSON.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object ||
                !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String ||
                !root.TryGetProperty("data", out var data))
            {
                return new Outcome(StatusCodes.Status400BadRequest, "malformed body", "The body must be an object with a string 'type' and a 'data'.");
            }
            var eventType = typeElement.GetString()!;
            if (!_handlers.TryGetValue(eventType, out var registration))
            {
                return new Outcome(options.UnknownEventTypeStatusCode, "unhandled", EventType: eventType);
            }
            // Verify() accepted the timestamp, so it parses.
            var timestamp = long.Parse(timestampHeader!, System.Globalization.CultureInfo.InvariantCulture);
            return await DispatchAsync(context, registration, id!, timestamp, eventType, data, options);
        }
    }

    private async Task<Outcome> DispatchAsync(
        HttpContext context, WebhookHandlerRegistration registration, string id, long timestamp, string eventType, JsonElement data, WebhookReceiverOptions options)
    {
        // Ids are kept past the tolerance window (plus skew): an older replay is refused by its timestamp.
        var retention = TimeSpan.FromSeconds(options.ToleranceSeconds * 2 + 60);
        var ct = context.RequestAborted;
        switch (await _replay.TryClaimAsync(id, retention, ct))
        {
            case ReplayClaim.AlreadyHandled:
                return new Outcome(StatusCodes.Status200OK, "duplicate", EventType: eventType);
            case ReplayClaim.InProgress:
                return new Outcome(StatusCodes.Status409Conflict, "in progress", "This webhook is being handled by another request.", eventType);
        }
        var webhook = new WebhookContext(id, DateTimeOffset.FromUnixTimeSeconds(timestamp), eventType, context);
        try
        {
            await registration.Invoke(context.RequestServices, data, webhook, Json, ct);
        }
        catch (JsonException ex)
        {
            await _replay.ReleaseAsync(id, CancellationToken.None);
            return new Outcome(StatusCodes.Status400BadRequest, "malformed data", $"The data does not fit {registration.HandlerType.Name}: {ex.Message}", eventType);
        }
        catch (Exception ex)
        {
            await _replay.ReleaseAsync(id, CancellationToken.None);
            LogHandlerFailed(ex, id, eventType);
            return new Outcome(StatusCodes.Status500InternalServerError, "handler failed", "The handler failed; retry later.", eventType);
        }
        await _replay.CompleteAsync(id, retention, CancellationToken.None);
        return new Outcome(StatusCodes.Status204NoContent, "handled", EventType: eventType);
    }

    private static async Task<ArrayBufferWriter<byte>?> ReadBodyAsync(HttpContext context, long max)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = max;
        }
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(context.Request.ContentLength ?? 4096, max) + 1);
        var stream = context.Request.Body;
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer.GetMemory(4096), context.RequestAborted);
                if (read == 0)
                {
                    return buffer;
                }
                buffer.Advance(read);
                if (buffer.WrittenCount > max)
                {
                    return null;
                }
            }
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId} {EventType}: the handler threw")]
    private partial void LogHandlerFailed(Exception exception, string webhookId, string eventType);
}
