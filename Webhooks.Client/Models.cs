using System.Text.Json;

namespace Webhooks.Client;

// The API's public shapes, shared by the server and the typed client. JSON is camelCase.

public sealed record ApplicationIn(string Name, string? Uid = null, IReadOnlyList<int>? RetrySchedule = null);

public sealed record ApplicationOut(string Id, string Name, string? Uid, IReadOnlyList<int>? RetrySchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What an endpoint's create and update requests have in common.</summary>
public interface IEndpointSettings
{
    string Url { get; }
    string? Description { get; }
    IReadOnlyList<string>? EventTypes { get; }
    IReadOnlyList<string>? Channels { get; }
    int? RateLimitPerSecond { get; }
    int? TimeoutSeconds { get; }
    IReadOnlyDictionary<string, string>? Headers { get; }
    IReadOnlyDictionary<string, string>? Metadata { get; }
    IReadOnlyList<int>? RetrySchedule { get; }
    EndpointAuthIn? Auth { get; }
    int? CircuitBreakerThreshold { get; }
    /// <summary>
    /// The payload filter: a message goes to the endpoint only if its payload matches (null: every payload). Keys are
    /// dot-separated paths (<c>customer.tier</c>, <c>items.0.sku</c>), values literals or objects of operators
    /// (<c>$eq $neq $gt $gte $lt $lte $in $nin $exists</c>), with <c>$and</c> / <c>$or</c> arrays at the top, e.g.
    /// <c>{"amount":{"$gte":100},"currency":{"$in":["EUR","USD"]}}</c>.
    /// </summary>
    JsonElement? Filter { get; }
    /// <summary>Requests a worker keeps in flight to the endpoint at most (1–1000); null: the worker's default (16).</summary>
    int? MaxInFlight { get; }
    /// <summary>JavaScript defining <c>function handler(webhook)</c>, run before every attempt; null or empty: none.</summary>
    string? Transformation { get; }
    /// <summary><c>standard</c> (default), <c>slack</c> or <c>discord</c> (see <see cref="EndpointFormats"/>).</summary>
    string? Format { get; }
    /// <summary><c>none</c> (null: the default) or <c>fifo</c>: see <see cref="OrderingModes"/>.</summary>
    string? Ordering { get; }
}

/// <summary>The values of an endpoint's <c>format</c>: the body its deliveries carry.</summary>
public static class EndpointFormats
{
    /// <summary>The Standard Webhooks envelope <c>{"type", "timestamp", "data"}</c>.</summary>
    public const string Standard = "standard";
    /// <summary>A Slack incoming webhook message: <c>{"text", "blocks"}</c>.</summary>
    public const string Slack = "slack";
    /// <summary>A Discord webhook message: <c>{"content", "embeds"}</c>.</summary>
    public const string Discord = "discord";
}

/// <summary>
/// The values of an endpoint's <c>ordering</c>. <see cref="Fifo"/>: deliveries to the endpoint go one at a time per
/// message <c>orderingKey</c> (messages without one share one sequence), in the order their publishes committed; a
/// delivery that fails blocks the later ones of its key until it succeeds or is exhausted, then the next goes. Different
/// keys flow independently. Switching a <c>fifo</c> endpoint to <see cref="None"/> lets its queued deliveries go at once;
/// switching to <see cref="Fifo"/> orders the messages published from then on.
/// </summary>
public static class OrderingModes
{
    public const string None = "none";
    public const string Fifo = "fifo";
}

/// <summary>
/// How the worker authenticates to the endpoint, beyond the signature. <see cref="Type"/> is <c>basic</c>
/// (<see cref="Username"/>, <see cref="Password"/>), <c>header</c> (<see cref="Name"/>, <see cref="Value"/>),
/// <c>oauth2-client-credentials</c> (<see cref="TokenUrl"/>, <see cref="ClientId"/>, <see cref="ClientSecret"/>, optional
/// <see cref="Scope"/> and <see cref="Audience"/>) or <c>mtls</c> (only <see cref="ClientCertificate"/>); a client
/// certificate can go with any type. Write-only: the secrets are never returned. On update, a secret left out
/// (null) keeps the stored one while the type, the endpoint's origin and the token URL stay the same.
/// </summary>
public sealed record EndpointAuthIn(
    string Type,
    string? Username = null,
    string? Password = null,
    string? Name = null,
    string? Value = null,
    string? TokenUrl = null,
    string? ClientId = null,
    string? ClientSecret = null,
    string? Scope = null,
    string? Audience = null,
    ClientCertificateIn? ClientCertificate = null);

/// <summary>A client certificate for mutual TLS: the certificate and its unencrypted private key, both PEM.</summary>
public sealed record ClientCertificateIn(string Certificate, string? PrivateKey = null);

/// <summary>An endpoint's authentication without its secrets (no password, header value, client secret or private key).</summary>
public sealed record EndpointAuthOut(
    string Type,
    string? Username = null,
    string? Name = null,
    string? TokenUrl = null,
    string? ClientId = null,
    string? Scope = null,
    string? Audience = null,
    ClientCertificateOut? ClientCertificate = null);

/// <summary>The client certificate's public facts.</summary>
public sealed record ClientCertificateOut(string Subject, string Thumbprint, DateTimeOffset NotAfter);

public sealed record EndpointIn(
    string Url,
    string? Description = null,
    IReadOnlyList<string>? EventTypes = null,
    IReadOnlyList<string>? Channels = null,
    string? Secret = null,
    int? RateLimitPerSecond = null,
    int? TimeoutSeconds = null,
    IReadOnlyDictionary<string, string>? Headers = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    IReadOnlyList<int>? RetrySchedule = null,
    EndpointAuthIn? Auth = null,
    int? CircuitBreakerThreshold = null,
    JsonElement? Filter = null,
    int? MaxInFlight = null,
    string? Transformation = null,
    string? Format = null,
    string? Ordering = null) : IEndpointSettings;

/// <summary>Replaces an endpoint's settings (everything but its secret, which <c>secret/rotate</c> changes).</summary>
public sealed record EndpointUpdateIn(
    string Url,
    string? Description = null,
    IReadOnlyList<string>? EventTypes = null,
    IReadOnlyList<string>? Channels = null,
    int? RateLimitPerSecond = null,
    int? TimeoutSeconds = null,
    IReadOnlyDictionary<string, string>? Headers = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    IReadOnlyList<int>? RetrySchedule = null,
    EndpointAuthIn? Auth = null,
    int? CircuitBreakerThreshold = null,
    JsonElement? Filter = null,
    int? MaxInFlight = null,
    string? Transformation = null,
    string? Format = null,
    string? Ordering = null) : IEndpointSettings;

/// <summary>Sends an event of <see cref="EventType"/> to one endpoint now: the payload given, else the event type's first schema example, else a small sample.</summary>
public sealed record EndpointTestIn(string EventType, JsonElement? Payload = null);

/// <summary>
/// The test message, and its attempt if it was made within the endpoint's timeout (else null: look it up later).
/// <see cref="FilterMatched"/>: whether the payload passes the endpoint's filter (null: it has none); the test event is
/// sent either way.
/// </summary>
public sealed record EndpointTestOut(string MessageId, AttemptOut? Attempt, bool? FilterMatched = null);

public sealed record StatsWindowOut(long Attempts, long Succeeded, long Failed, double? SuccessRate);

public sealed record LastFailureOut(string AttemptId, string MessageId, DateTimeOffset At, int? ResponseStatus, string? ErrorKind, string? ErrorMessage);

/// <summary>An endpoint's attempts over the last 24 hours and 7 days, its last failure, and what waits for it.</summary>
public sealed record EndpointStatsOut(StatsWindowOut Last24h, StatsWindowOut Last7d, LastFailureOut? LastFailure, long Pending);

public sealed record HourStatsOut(DateTimeOffset Hour, long Succeeded, long Failed);

/// <summary>An application over the last 24 hours: its deliveries by state, attempts per hour, and what is due now.</summary>
public sealed record ApplicationStatsOut(
    IReadOnlyDictionary<string, long> Deliveries,
    long Attempts,
    long Succeeded,
    double? SuccessRate,
    long DueBacklog,
    IReadOnlyList<HourStatsOut> Hours);

public sealed record EventTypeIn(string Name, string? Description = null, JsonElement? Schema = null);

/// <summary>Replaces an event type's description and schema; <see cref="Archived"/> false un-archives it.</summary>
public sealed record EventTypeUpdateIn(string? Description = null, JsonElement? Schema = null, bool Archived = false);

/// <summary>
/// An event type. <see cref="DeploymentWide"/>: one of the deployment's catalogue, which every application sees (managed
/// with an admin key at <c>/api/v1/event-type</c>, Svix's route); an application's own type of the same name wins.
/// </summary>
public sealed record EventTypeOut(string Id, string Name, string? Description, JsonElement? Schema, bool Archived, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    bool DeploymentWide = false);

public sealed record EndpointOut(
    string Id,
    string Url,
    string? Description,
    IReadOnlyList<string> EventTypes,
    IReadOnlyList<string> Channels,
    int? RateLimitPerSecond,
    int TimeoutSeconds,
    IReadOnlyList<int>? RetrySchedule,
    IReadOnlyDictionary<string, string> Headers,
    IReadOnlyDictionary<string, string> Metadata,
    bool Disabled,
    string? DisabledReason,
    DateTimeOffset? DisabledAt,
    int ConsecutiveFailures,
    DateTimeOffset? LastSuccessAt,
    int? CircuitBreakerThreshold,
    string CircuitState,
    DateTimeOffset? CircuitOpenedAt,
    DateTimeOffset? CircuitRetryAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    EndpointAuthOut? Auth = null,
    JsonElement? Filter = null,
    int? MaxInFlight = null,
    string? Transformation = null,
    string Format = EndpointFormats.Standard,
    string Ordering = OrderingModes.None);

/// <summary>
/// Runs a transformation and format against a message (<see cref="MessageId"/>, of this application) or an event given
/// here (<see cref="EventType"/> and <see cref="Payload"/>), without sending anything. <see cref="Url"/> and
/// <see cref="Headers"/> are what the script sees as the request's (defaults: <c>https://example.com/webhook</c>, none).
/// </summary>
public sealed record TransformationPreviewIn(
    string? Transformation = null,
    string? Format = null,
    string? MessageId = null,
    string? EventType = null,
    JsonElement? Payload = null,
    string? Url = null,
    IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>
/// What would be sent: the body (as JSON, and as the exact text that is signed), method, URL and custom headers; or
/// <see cref="Cancel"/> true when the transformation skips the delivery.
/// </summary>
public sealed record TransformationPreviewOut(JsonElement? Payload, string? Body, string Method, string Url, IReadOnlyDictionary<string, string> Headers, bool Cancel);

/// <summary>The values of <see cref="EndpointOut.CircuitState"/>.</summary>
public static class CircuitStates
{
    /// <summary>Delivering as usual.</summary>
    public const string Closed = "closed";
    /// <summary>Failing: deliveries wait, unattempted, until the cool-down (<see cref="EndpointOut.CircuitRetryAt"/>) passes.</summary>
    public const string Open = "open";
    /// <summary>One probe delivery is out; its success closes the circuit, its failure re-opens it for longer.</summary>
    public const string HalfOpen = "half-open";
}

/// <summary>An entry of an endpoint's history: <c>circuit_opened</c> or <c>circuit_closed</c>, and what went with it.</summary>
public sealed record EndpointEventOut(string Kind, DateTimeOffset At, JsonElement Data);

public sealed record EndpointSecretOut(string Key, string? PreviousKey, DateTimeOffset? PreviousKeyExpiresAt);

/// <summary>Rotates the signing secret; without a key one is generated. The old one keeps signing for the overlap.</summary>
public sealed record RotateSecretIn(string? Key = null);

public sealed record DisableEndpointIn(string? Reason = null);

/// <summary>An endpoint as created: the only response besides <c>GET …/secret</c> that carries the secret.</summary>
public sealed record EndpointCreated(string Id, string Url, string Secret, EndpointOut Endpoint);

/// <summary>
/// A message to publish. <see cref="Priority"/> (0–9, default 5, higher first): among due deliveries, higher priorities are
/// sent first, by up to 10 s of waiting per level, so older lower-priority deliveries still go in the end.
/// <see cref="OrderingKey"/> (up to 128 characters): to <c>fifo</c> endpoints, the messages of one key are delivered one at a
/// time in publish order (see <see cref="OrderingModes"/>).
/// </summary>
public sealed record MessageIn(string EventType, JsonElement Payload, IReadOnlyList<string>? Channels = null, string? IdempotencyKey = null,
    int? Priority = null, string? OrderingKey = null);

/// <summary>Up to 500 messages, published in one transaction: all are stored or none.</summary>
public sealed record MessageBatchIn(IReadOnlyList<MessageIn> Messages);

public sealed record MessageBatchOut(IReadOnlyList<MessageOut> Data);

public sealed record MessageOut(
    string Id,
    string EventType,
    JsonElement Payload,
    IReadOnlyList<string> Channels,
    string? IdempotencyKey,
    DateTimeOffset CreatedAt,
    IReadOnlyList<DeliveryOut>? Deliveries = null,
    int Priority = 5,
    string? OrderingKey = null,
    string? Status = null);

public sealed record DeliveryOut(
    string Id,
    string MessageId,
    string EndpointId,
    string Status,
    int AttemptCount,
    DateTimeOffset? NextAttemptAt,
    int? LastStatusCode,
    DateTimeOffset UpdatedAt);

/// <summary>
/// One attempt to deliver a message to an endpoint. <see cref="TraceId"/> is the W3C trace id of the attempt's span, in the
/// publisher's trace: open it in the Aspire dashboard (or any OTLP trace viewer) to see the publish, the send and the receipt.
/// </summary>
public sealed record AttemptOut(
    string Id,
    string MessageId,
    string EndpointId,
    string Url,
    string Trigger,
    DateTimeOffset StartedAt,
    int DurationMs,
    bool Succeeded,
    IReadOnlyDictionary<string, string>? RequestHeaders,
    int? ResponseStatus,
    IReadOnlyDictionary<string, string>? ResponseHeaders,
    string? ResponseBody,
    string? ErrorKind,
    string? ErrorMessage,
    bool TokenRefreshed = false,
    string? TraceId = null);

/// <summary>A page of a list; pass <see cref="Iterator"/> back to get the next one, until <see cref="Done"/>.</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Data, string? Iterator, bool Done);

/// <summary>A new API key: for one application, or (without one) an admin key for all.</summary>
public sealed record ApiKeyIn(string Name, string? ApplicationId = null);

public sealed record ApiKeyOut(string Id, string Name, string? ApplicationId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A key as created: the only time its plain text is shown.</summary>
public sealed record ApiKeyCreated(string Id, string Key, ApiKeyOut ApiKey);

/// <summary>Re-queues every failed or exhausted delivery of an endpoint created at or after <see cref="Since"/>.</summary>
public sealed record RecoverIn(DateTimeOffset Since);

public sealed record RecoverOut(int Requeued);

/// <summary>
/// A portal link to create: a one-time sign-in to the dashboard for one application's own users. Every field is
/// optional: the lifetime defaults to the server's <c>Webhooks:Dashboard:PortalLinkLifetimeSeconds</c> (1 h).
/// </summary>
/// <param name="ExpiresInSeconds">How long the link, and the session it opens, lasts: 1 s to 24 h.</param>
/// <param name="ReadOnly">The session may look but not change anything.</param>
/// <param name="AllowedEventTypes">The only event types the session's endpoints may subscribe to and its message lists show.</param>
/// <param name="Embeddable">The link is for a frame on the application's own site: refused (422) unless the application's portal
/// names the origins that may frame it (<see cref="PortalSettingsIn.FrameAncestors"/>).</param>
public sealed record PortalLinkIn(int? ExpiresInSeconds = null, bool? ReadOnly = null, IReadOnlyList<string>? AllowedEventTypes = null, bool? Embeddable = null);

/// <summary>
/// How an application's tenant portal looks and where it may be embedded: the origins allowed to frame it
/// (<c>https://app.example.com</c>, or <c>https://*.example.com</c>; at most 10), the name shown instead of the
/// application's (this product's is never shown in a portal), a logo (an https URL), an accent colour (<c>#rrggbb</c>)
/// and <c>light</c> or <c>dark</c>.
/// </summary>
public sealed record PortalSettingsIn(IReadOnlyList<string>? FrameAncestors = null, string? Name = null, string? LogoUrl = null, string? AccentColor = null,
    string? Theme = null);

public sealed record PortalSettingsOut(IReadOnlyList<string> FrameAncestors, string? Name, string? LogoUrl, string? AccentColor, string Theme);

/// <summary>A new portal link: the URL (shown this once; only its hash is stored) and when it, and its session, end.</summary>
public sealed record PortalLinkCreated(string Id, string Url, DateTimeOffset ExpiresAt);

/// <summary>A portal link as stored: never its token.</summary>
public sealed record PortalLinkOut(string Id, bool ReadOnly, IReadOnlyList<string>? AllowedEventTypes, DateTimeOffset ExpiresAt,
    DateTimeOffset? UsedAt, DateTimeOffset? RevokedAt, DateTimeOffset CreatedAt);

/// <summary>The senders a source can verify (see docs/sources.md): each signs and names its events its own way.</summary>
public static class SourceTypes
{
    /// <summary>GitHub webhooks: <c>X-Hub-Signature-256</c>; events <c>github.&lt;X-GitHub-Event&gt;</c>.</summary>
    public const string GitHub = "github";
    /// <summary>Stripe: <c>Stripe-Signature</c> (5-minute tolerance); events <c>stripe.&lt;type&gt;</c>.</summary>
    public const string Stripe = "stripe";
    /// <summary>Any Standard Webhooks sender: <c>webhook-*</c> headers; events named by the body's <c>type</c>.</summary>
    public const string StandardWebhooks = "standard-webhooks";
}

/// <summary>
/// A source to create: a sender whose webhooks come in through its ingest URL. <see cref="Secret"/>: the one the sender
/// signs with (Stripe's <c>whsec_…</c>; for GitHub and Standard Webhooks one is generated when left out).
/// <see cref="RateLimitPerSecond"/>: requests a second the ingest URL takes (default 100, bursts of twice that).
/// </summary>
public sealed record SourceIn(string Name, string Type, string? Secret = null, int? RateLimitPerSecond = null);

/// <summary>A source's name and rate limit (its type is fixed; its secret changes by rotation).</summary>
public sealed record SourceUpdateIn(string Name, int? RateLimitPerSecond = null);

/// <summary>A source. <see cref="IngestUrl"/> is where the sender posts: it needs no API key, only the sender's signature.</summary>
public sealed record SourceOut(string Id, string Name, string Type, string IngestUrl, int RateLimitPerSecond, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A source as created, with its secret (also at <c>GET …/secret</c>).</summary>
public sealed record SourceCreated(string Id, string Name, string Type, string IngestUrl, string Secret, SourceOut Source);

/// <summary>The secrets a source verifies with: during a rotation's overlap, the previous one too.</summary>
public sealed record SourceSecretOut(string Secret, string? PreviousSecret, DateTimeOffset? PreviousSecretExpiresAt);

/// <summary>Verifies with <see cref="Secret"/> from now on (generated when left out, where the type allows); the old one passes for the overlap.</summary>
public sealed record RotateSourceSecretIn(string? Secret = null);

/// <summary>What became of a request to an ingest URL: <see cref="SourceEventOutcomes"/>.</summary>
public static class SourceEventOutcomes
{
    public const string Published = "published";
    public const string Duplicate = "duplicate";
    public const string Refused = "refused";
}

/// <summary>
/// One request to a source's ingest URL: the status answered, what became of it, why it was refused, the sender's delivery
/// id, the message published, and for a refusal the start of its body.
/// </summary>
public sealed record SourceEventOut(long Id, DateTimeOffset ReceivedAt, int Status, string Outcome, string? Reason, string? DeliveryId, string? EventType,
    string? MessageId, long BodyBytes, string? Preview);

/// <summary>What an ingest URL answers when it took a request: the message it published, or (a sender's retry) the one published before (null if it can no longer be told).</summary>
public sealed record IngestOut(string? MessageId, string EventType, bool Duplicate);
