using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Worker.Dispatch;

/// <summary>
/// Sends one delivery as a Standard Webhooks request: builds the body, signs it with the SDK's scheme
/// (every valid secret during a rotation), posts it with the endpoint's timeout, and reports what came back.
/// </summary>
public sealed class WebhookSender(HttpClient http, TimeProvider time, SecretProtector secrets, EndpointCredentials? credentials = null)
{
    private const string UserAgent = "Webhooks.Aspire/0.1 (+https://www.standardwebhooks.com/)";
    private readonly EndpointCredentials _credentials = credentials ?? new EndpointCredentials(http, Options.Create(new DeliveryOptions()), time);

    /// <param name="Sent">False when nothing went out (the request could not be built): not an attempt, the delivery is handed back.</param>
    public readonly record struct SendResult(DeliveryAttempt Attempt, AttemptOutcome Outcome, TimeSpan? RetryAfter, bool Sent = true, Exception? NotSentBecause = null);

    /// <summary>An attempt that ended before or without an answer to classify.</summary>
    public static SendResult Failure(ClaimedDelivery delivery, DateTimeOffset startedAt, AttemptOutcome outcome, string errorKind, string message) =>
        new(new DeliveryAttempt(delivery.Id, delivery.MessageId, delivery.EndpointId, delivery.Url, delivery.Trigger, startedAt)
        {
            ErrorKind = errorKind,
            ErrorMessage = message,
        }, outcome, null);

    /// <summary>
    /// Sends the delivery once and says what happened. Whatever happens — refused, reset, cut-off or malformed answer,
    /// TLS or DNS failure, or a bug of ours — the result is an attempt to record, never an exception.
    /// </summary>
    public async Task<SendResult> SendAsync(ClaimedDelivery delivery, CancellationToken ct)
    {
        ActivityContext.TryParse(delivery.TraceParent, null, out var parent);
        if (delivery.Claim.Started != default)
        {
            WorkerTelemetry.Span("webhook claim", parent, delivery.Claim.Started, delivery.Claim.Ended, delivery.MessageId);
        }
        using var activity = WorkerTelemetry.ActivitySource.StartActivity("webhook deliver", ActivityKind.Client, parent);
        activity?.SetTag("webhook.message_id", delivery.MessageId);
        activity?.SetTag("webhook.endpoint_id", delivery.EndpointId);
        activity?.SetTag("webhook.event_type", delivery.EventType);
        activity?.SetTag("webhook.attempt", delivery.AttemptCount + 1);

        var now = time.GetUtcNow();
        var traceId = activity?.TraceId.ToHexString();
        TransformationOutput shaped;
        try
        {
            shaped = Shape(delivery);
        }
        catch (TransformationException ex)
        {
            // The script failed: nothing was sent. An attempt on record, blocked until the script changes.
            var failure = Failure(delivery, now, AttemptOutcome.TransformationFailed, DeliveryLifecycle.TransformationErrorKind, ex.Message);
            failure.Attempt.TraceId = traceId;
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            return failure;
        }
        if (shaped.Cancel)
        {
            var cancelled = Failure(delivery, now, AttemptOutcome.Cancelled, DeliveryLifecycle.CancelledErrorKind,
                "The endpoint's transformation cancelled this delivery; nothing was sent.");
            cancelled.Attempt.TraceId = traceId;
            return cancelled;
        }
        var attempt = new DeliveryAttempt(delivery.Id, delivery.MessageId, delivery.EndpointId, shaped.Url, delivery.Trigger, now) { TraceId = traceId };
        HttpRequestMessage built;
        EndpointAuth? auth;
        try
        {
            auth = delivery.Auth is null ? null : EndpointAuth.FromJson(secrets.Unprotect(delivery.Auth));
            built = BuildRequest(delivery, shaped, now, auth);
        }
        catch (Exception ex)
        {
            // Nothing was sent: a signing secret that cannot be decrypted here (a missing or wrong key-ring key), or a
            // stored value that cannot be used. Not the endpoint's doing, and not an attempt: the caller hands it back.
            var failure = Failure(delivery, now, AttemptOutcome.Retryable, DeliveryLifecycle.InternalErrorKind, $"The request could not be built: {ex.Message}")
                with { Sent = false, NotSentBecause = ex };
            failure.Attempt.TraceId = traceId;
            return failure;
        }
        var request = built;

        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(delivery.TimeoutSeconds));
        AttemptOutcome outcome;
        TimeSpan? retryAfter = null;
        try
        {
            var client = _credentials.ClientFor(delivery.EndpointId, auth);
            string? token = null;
            if (auth?.Type == EndpointAuth.OAuth2ClientCredentials)
            {
                token = (await TokenAsync(delivery, auth, rejected: null, timeout.Token, ct)).AccessToken;
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            attempt.RequestHeaders = RequestHeadersOf(request, shaped.Headers, auth);
            var first = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (first.StatusCode == HttpStatusCode.Unauthorized && token is not null)
            {
                // The token was refused (revoked, rotated, expired early): one fresh token and one more try, in this attempt.
                first.Dispose();
                attempt.TokenRefreshed = true;
                var fresh = await TokenAsync(delivery, auth!, rejected: token, timeout.Token, ct);
                request.Dispose();
                request = BuildRequest(delivery, shaped, now, auth);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fresh.AccessToken);
                first = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            using var response = first;
            attempt.ResponseStatus = (int)response.StatusCode;
            attempt.ResponseHeaders = HeadersOf(response);
            attempt.ResponseBody = await ReadTruncatedAsync(response, timeout.Token);
            outcome = DeliveryLifecycle.Classify(attempt.ResponseStatus);
            retryAfter = RetryAfterOf(response, now);
            if (outcome != AttemptOutcome.Succeeded)
            {
                attempt.ErrorKind = "http_status";
                attempt.ErrorMessage = $"The endpoint answered {(int)response.StatusCode} {response.ReasonPhrase}.";
            }
        }
        catch (EndpointAuthException ex)
        {
            outcome = AttemptOutcome.Retryable;
            attempt.ErrorKind = EndpointCredentials.AuthErrorKind;
            attempt.ErrorMessage = attempt.TokenRefreshed ? $"The endpoint answered 401 to the token, and no new one could be had: {ex.Message}" : ex.Message;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            outcome = AttemptOutcome.Retryable;
            attempt.ErrorKind = "timeout";
            attempt.ErrorMessage = attempt.ResponseStatus is { } status
                ? $"The endpoint answered {status}, but its response did not finish within {delivery.TimeoutSeconds} s."
                : $"No response within {delivery.TimeoutSeconds} s.";
        }
        catch (HttpRequestException ex) when (ex.InnerException is DestinationBlockedException blocked)
        {
            outcome = AttemptOutcome.Rejected;
            attempt.ErrorKind = "blocked";
            attempt.ErrorMessage = blocked.Message;
        }
        catch (HttpRequestException ex) when (attempt.ResponseStatus is null)
        {
            outcome = AttemptOutcome.Retryable;
            (attempt.ErrorKind, attempt.ErrorMessage) = ex switch
            {
                { InnerException: SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } socket } =>
                    ("dns", $"{ex.Message} ({socket.SocketErrorCode})"),
                { InnerException: System.Security.Authentication.AuthenticationException tls } => ("tls", $"{ex.Message} {tls.Message}"),
                { InnerException: SocketException socket } => ("connection", $"{ex.Message} ({socket.SocketErrorCode})"),
                _ => ("connection", ex.Message),
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException && attempt.ResponseStatus is not null)
        {
            // The status line came, the rest did not: a body cut short, broken chunking, a reset. Not a delivery.
            outcome = AttemptOutcome.Retryable;
            attempt.ErrorKind = "response";
            attempt.ErrorMessage = $"The endpoint answered {attempt.ResponseStatus}, then the response broke off: {ex.Message}";
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            outcome = AttemptOutcome.Retryable;
            attempt.ErrorKind = ex is IOException ? "connection" : "internal";
            attempt.ErrorMessage = $"The attempt failed: {ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            request.Dispose();
        }
        attempt.DurationMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        attempt.Succeeded = outcome == AttemptOutcome.Succeeded;
        activity?.SetTag("http.response.status_code", attempt.ResponseStatus);
        activity?.SetTag("webhook.outcome", SnakeCase.Of(outcome));
        if (!attempt.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, attempt.ErrorMessage);
        }
        return new SendResult(attempt, outcome, retryAfter);
    }

    private HttpRequestMessage BuildRequest(ClaimedDelivery delivery, TransformationOutput shaped, DateTimeOffset now, EndpointAuth? auth)
    {
        // Signed over the body as sent: the transformed one, when there is a transformation.
        var body = shaped.Body;
        var timestamp = now.ToUnixTimeSeconds();
        var request = new HttpRequestMessage(new HttpMethod(shaped.Method), shaped.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        foreach (var (name, value) in shaped.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        request.Headers.UserAgent.ParseAdd(UserAgent);
        request.Headers.Add("webhook-id", delivery.MessageId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        var signature = SignatureScheme.Sign(SecretsOf(delivery, now), delivery.MessageId, timestamp, body);
        request.Headers.Add("webhook-signature", signature);
        if (delivery.Raw)
        {
            // Published through the Svix surface: also under Svix's names, so the svix library's verifier finds them.
            request.Headers.Add("svix-id", delivery.MessageId);
            request.Headers.Add("svix-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("svix-signature", signature);
        }
        // The endpoint's authentication wins over a custom header of the same name.
        switch (auth?.Type)
        {
            case EndpointAuth.Basic:
                request.Headers.Remove("Authorization");
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                    Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{auth.Username}:{auth.Password}")));
                break;
            case EndpointAuth.Header:
                request.Headers.Remove(auth.HeaderName!);
                request.Headers.TryAddWithoutValidation(auth.HeaderName!, auth.HeaderValue);
                break;
            case EndpointAuth.OAuth2ClientCredentials:
                request.Headers.Remove("Authorization");
                break;
        }
        return request;
    }

    /// <summary>A token for the delivery; the attempt's time running out while it is fetched is a failure to authenticate, not a silent receiver.</summary>
    private async Task<EndpointCredentials.Token> TokenAsync(ClaimedDelivery delivery, EndpointAuth auth, string? rejected, CancellationToken attemptToken, CancellationToken ct)
    {
        try
        {
            return await _credentials.TokenAsync(delivery.EndpointId, auth, rejected, attemptToken);
        }
        catch (OperationCanceledException ex) when (attemptToken.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new EndpointAuthException($"No token from the token endpoint within the endpoint's timeout ({delivery.TimeoutSeconds} s).", ex);
        }
    }

    /// <summary>
    /// The request to send: the body in the endpoint's format (the envelope, or a Slack or Discord message), POSTed to its
    /// URL with its custom headers; then, if it has one, what its transformation makes of that. Throws
    /// <see cref="TransformationException"/> when the transformation fails.
    /// </summary>
    public static TransformationOutput Shape(ClaimedDelivery delivery) =>
        Transformation.Shape(delivery.Format, delivery.Transformation, delivery.EventType, delivery.MessageCreatedAt, delivery.Payload, delivery.Url, delivery.Headers,
            raw: delivery.Raw);

    private IEnumerable<WebhookSecret> SecretsOf(ClaimedDelivery delivery, DateTimeOffset now)
    {
        yield return WebhookSecret.Parse(secrets.Unprotect(delivery.Secret));
        if (delivery.PreviousSecret is not null && delivery.PreviousSecretExpiresAt > now)
        {
            yield return WebhookSecret.Parse(secrets.Unprotect(delivery.PreviousSecret));
        }
    }

    /// <summary>
    /// The headers as sent, for the attempt log. Custom headers whose names suggest a credential, Authorization and the
    /// endpoint's authentication header keep their name with the value redacted: the log is readable by anyone who may
    /// read the application.
    /// </summary>
    private static Dictionary<string, string> RequestHeadersOf(HttpRequestMessage request, Dictionary<string, string> custom, EndpointAuth? auth)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers.Concat(request.Content!.Headers))
        {
            var lower = name.ToLowerInvariant();
            var redact = lower == "authorization" || (auth?.Type == EndpointAuth.Header && name.Equals(auth.HeaderName, StringComparison.OrdinalIgnoreCase)) ||
                         (IsCredential(lower) && custom.Keys.Any(k => k.Equals(name, StringComparison.OrdinalIgnoreCase)));
            headers[lower] = redact
                ? "[redacted]"
                : string.Join(lower == "user-agent" ? " " : ", ", values);
        }
        return headers;
    }

    private static bool IsCredential(string name) => CustomHeaders.IsCredentialName(name);

    private static Dictionary<string, string> HeadersOf(HttpResponseMessage response)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            headers[name.ToLowerInvariant()] = string.Join(", ", values);
        }
        return headers;
    }

    private static async Task<string?> ReadTruncatedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[DeliveryAttempt.MaxResponseBodyBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), ct)) > 0)
        {
            total += read;
        }
        if (total == 0)
        {
            return null;
        }
        // Cut at a character boundary, and keep text storable (Postgres text refuses NUL).
        return System.Text.Encoding.UTF8.GetString(buffer, 0, total).Replace('\0', '\uFFFD');
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, DateTimeOffset now) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
            _ => null,
        };
}
