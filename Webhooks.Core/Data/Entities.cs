// EF Core sets the non-nullable properties of the parameterless constructors when it materializes rows.
#pragma warning disable CS8618

namespace Webhooks.Core.Data;

/// <summary>A tenant: one customer of the platform's user. Everything else belongs to one.</summary>
public sealed class Application
{
    // For EF Core materialization.
    private Application()
    {
    }

    public Application(string name, string? uid, DateTimeOffset now)
    {
        Id = Ids.New(Ids.Application);
        Name = name;
        Uid = uid;
        CreatedAt = now.AtStoragePrecision();
        UpdatedAt = now.AtStoragePrecision();
    }

    public string Id { get; private set; }
    public string Name { get; private set; }
    /// <summary>A client-chosen unique id, usable in place of <see cref="Id"/>.</summary>
    public string? Uid { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }
    /// <summary>Retry delays in seconds for this application's endpoints; null: the worker's default.</summary>
    public int[]? RetrySchedule { get; set; }
    /// <summary>Free key-value pairs for the platform's user (Svix's <c>metadata</c>); never read by the platform.</summary>
    public Dictionary<string, string> Metadata { get; set; } = [];
    /// <summary>The origins (<c>https://app.example.com</c>) allowed to frame this application's tenant portal.</summary>
    public string[] PortalFrameAncestors { get; set; } = [];
    /// <summary>The portal's name for this application's users (default: the application's name); the product's own is never shown.</summary>
    public string? PortalName { get; set; }
    /// <summary>An https URL of a logo shown in the portal's header.</summary>
    public string? PortalLogoUrl { get; set; }
    /// <summary>The portal's accent colour, <c>#rrggbb</c>.</summary>
    public string? PortalAccentColor { get; set; }
    /// <summary><c>light</c> (default) or <c>dark</c>.</summary>
    public string? PortalTheme { get; set; }
    /// <summary>
    /// Set when the application is deleted: from then on it is invisible and nothing of it is delivered; the row
    /// (and everything of it, by cascade) goes once no delivery of it is in flight.
    /// </summary>
    public DateTimeOffset? DeletedAt { get; private set; }

    /// <summary>Hides the application; its uid is freed for a new one at once.</summary>
    public void MarkDeleted(DateTimeOffset now)
    {
        DeletedAt = now.AtStoragePrecision();
        Uid = null;
        UpdatedAt = now.AtStoragePrecision();
    }

    public void Update(string name, string? uid, int[]? retrySchedule, DateTimeOffset now)
    {
        Name = name;
        Uid = uid;
        RetrySchedule = retrySchedule;
        UpdatedAt = now.AtStoragePrecision();
    }
}

/// <summary>
/// A one-time sign-in to the dashboard for one application's own users, without an API key. The URL carries a random
/// token; only its SHA-256 is stored. Used once (<see cref="UsedAt"/>), the session it opened lasts until
/// <see cref="ExpiresAt"/> or until the link is revoked.
/// </summary>
public sealed class PortalLink
{
    // For EF Core materialization.
    private PortalLink()
    {
    }

    public string Id { get; private set; }
    public string ApplicationId { get; private set; }
    public byte[] TokenHash { get; private set; }
    /// <summary>The session may look but not change anything.</summary>
    public bool ReadOnly { get; private set; }
    /// <summary>The only event types the session's endpoints may subscribe to and its message lists show; null: all.</summary>
    public string[]? AllowedEventTypes { get; private set; }
    public DateTimeOffset ExpiresAt { get; private set; }
    public DateTimeOffset? UsedAt { get; private set; }
    public DateTimeOffset? RevokedAt { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
}

/// <summary>A bearer key, stored as its SHA-256. No application: an admin key for all of them.</summary>
public sealed class ApiKey
{
    // For EF Core materialization.
    private ApiKey()
    {
    }

    public ApiKey(string name, string? applicationId, byte[] keyHash, string displayPrefix, DateTimeOffset now)
    {
        Id = Ids.New(Ids.ApiKey);
        Name = name;
        ApplicationId = applicationId;
        KeyHash = keyHash;
        DisplayPrefix = displayPrefix;
        CreatedAt = now.AtStoragePrecision();
    }

    public string Id { get; private set; }
    public string Name { get; private set; }
    public string? ApplicationId { get; private set; }
    public byte[] KeyHash { get; private set; }
    /// <summary>The first characters of the plain key, so a person can tell keys apart.</summary>
    public string DisplayPrefix { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset? RevokedAt { get; private set; }

    public void Revoke(DateTimeOffset now) => RevokedAt ??= now.AtStoragePrecision();
}

public sealed class EventType
{
    // For EF Core materialization.
    private EventType()
    {
    }

    /// <param name="applicationId">The application it belongs to; null: the deployment-wide catalogue every application sees.</param>
    public EventType(string? applicationId, string name, string? description, string? schema, DateTimeOffset now)
    {
        Id = Ids.New(Ids.EventType);
        ApplicationId = applicationId;
        Name = name;
        Description = description;
        Schema = schema;
        CreatedAt = now.AtStoragePrecision();
        UpdatedAt = now.AtStoragePrecision();
    }

    public string Id { get; private set; }
    /// <summary>The application it belongs to; null for a deployment-wide event type (the catalogue of Svix's <c>/api/v1/event-type</c>).</summary>
    public string? ApplicationId { get; private set; }
    public string Name { get; private set; }
    public string? Description { get; private set; }
    /// <summary>An optional JSON Schema the payloads of this type must match (application event types only).</summary>
    public string? Schema { get; private set; }
    /// <summary>
    /// A deployment-wide event type's schemas by version, as Svix keeps them (<c>{"1": {…}}</c>, JSON): documentation and
    /// examples for the catalogue, never checked against payloads (as in Svix).
    /// </summary>
    public string? Schemas { get; private set; }
    public bool Deprecated { get; private set; }
    public string? FeatureFlag { get; private set; }
    public bool Archived { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }

    public void Update(string? description, string? schema, bool archived, DateTimeOffset now)
    {
        Description = description;
        Schema = schema;
        Archived = archived;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Replaces what Svix's surface shows of a deployment-wide event type.</summary>
    public void UpdateCatalogue(string description, string? schemas, bool archived, bool deprecated, string? featureFlag, DateTimeOffset now)
    {
        Description = description;
        Schemas = schemas;
        Archived = archived;
        Deprecated = deprecated;
        FeatureFlag = featureFlag;
        UpdatedAt = now.AtStoragePrecision();
    }
}

/// <summary>A receiver's URL that subscribed to some (or all) event types of one application.</summary>
public sealed class Endpoint
{
    public const int DefaultTimeoutSeconds = 15;

    // For EF Core materialization.
    private Endpoint()
    {
    }

    public Endpoint(string applicationId, string url, string secret, DateTimeOffset now)
    {
        Id = Ids.New(Ids.Endpoint);
        ApplicationId = applicationId;
        Url = url;
        Secret = secret;
        CreatedAt = now.AtStoragePrecision();
        UpdatedAt = now.AtStoragePrecision();
    }

    public string Id { get; private set; }
    public string ApplicationId { get; private set; }
    /// <summary>A client-chosen id, unique in its application, usable in place of <see cref="Id"/> (Svix's <c>uid</c>); freed on delete.</summary>
    public string? Uid { get; set; }
    public string Url { get; private set; }
    public string? Description { get; private set; }
    /// <summary>Event types delivered here; empty means all.</summary>
    public string[] EventTypes { get; private set; } = [];
    /// <summary>Channels delivered here; empty means all.</summary>
    public string[] Channels { get; private set; } = [];
    public Dictionary<string, string> Headers { get; private set; } = [];
    public Dictionary<string, string> Metadata { get; private set; } = [];
    public int? RateLimitPerSecond { get; private set; }
    public int TimeoutSeconds { get; private set; } = DefaultTimeoutSeconds;
    /// <summary>Retry delays in seconds; null: the application's, else the worker's default.</summary>
    public int[]? RetrySchedule { get; private set; }
    /// <summary>Failed attempts in a row that open the circuit; null: the worker's <c>CircuitBreakerThreshold</c>.</summary>
    public int? CircuitBreakerThreshold { get; private set; }
    /// <summary>The payload filter as the user wrote it (JSON); null: every payload passes. See <see cref="Webhooks.Core.Delivery.PayloadFilter"/>.</summary>
    public string? Filter { get; private set; }
    /// <summary>The filter translated to an SQL/JSON path predicate (a <c>jsonpath</c> column), which the fan-out evaluates.</summary>
    public string? FilterPath { get; private set; }
    /// <summary>Requests a worker keeps in flight to this endpoint at most; null: the worker's <c>MaxInFlightPerEndpoint</c>.</summary>
    public int? MaxInFlight { get; private set; }
    /// <summary>JavaScript defining <c>handler(webhook)</c>, run on every attempt to reshape the request; null: none.</summary>
    public string? Transformation { get; private set; }
    /// <summary>The body's format: <c>standard</c>, <c>slack</c> or <c>discord</c> (see <c>ChatFormats</c>).</summary>
    public string Format { get; private set; } = "standard";
    /// <summary>
    /// <see cref="DeliveryOrdering.Fifo"/>: deliveries here go one at a time per ordering key, in publish order (see
    /// <c>DeliveryLifecycle</c>'s ordering transitions).
    /// </summary>
    public DeliveryOrdering Ordering { get; private set; }

    public string Secret { get; private set; }
    public string? PreviousSecret { get; private set; }
    public DateTimeOffset? PreviousSecretExpiresAt { get; private set; }
    /// <summary>The endpoint's <see cref="EndpointAuth"/> as JSON, encrypted (<see cref="SecretProtector"/>); null: signature only.</summary>
    public string? Auth { get; private set; }
    /// <summary>What the API shows of <see cref="Auth"/> (type, user name, header name, token URL, certificate subject…), as JSON: no secret.</summary>
    public string? AuthSummary { get; private set; }

    public bool Disabled { get; private set; }
    public string? DisabledReason { get; private set; }
    public DateTimeOffset? DisabledAt { get; private set; }
    public int ConsecutiveFailures { get; private set; }
    public DateTimeOffset? FirstFailureAt { get; private set; }
    public DateTimeOffset? LastSuccessAt { get; private set; }

    /// <summary>
    /// When the circuit opened (the failure streak reached the threshold); null while it is closed. While it is open the
    /// endpoint's waiting deliveries are held, unattempted, and one probe at a time is sent once the cool-down passes.
    /// The worker moves the circuit (see <c>DeliveryLifecycle</c>); the API only reads it, and closes it on enable.
    /// </summary>
    public DateTimeOffset? CircuitOpenedAt { get; private set; }
    /// <summary>When the cool-down ends and a probe may be sent.</summary>
    public DateTimeOffset? CircuitRetryAt { get; private set; }
    /// <summary>Probes that failed since the circuit opened: each one doubles the next cool-down (up to a cap).</summary>
    public int CircuitReopens { get; private set; }
    /// <summary>The delivery let through as the probe (half-open); null while none is out.</summary>
    public long? CircuitProbeId { get; private set; }

    public CircuitState CircuitState =>
        CircuitOpenedAt is null ? CircuitState.Closed : CircuitProbeId is null ? CircuitState.Open : CircuitState.HalfOpen;

    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }
    /// <summary>Set when the endpoint is deleted: invisible and not delivered to; the row goes once nothing is in flight to it.</summary>
    public DateTimeOffset? DeletedAt { get; private set; }

    /// <summary>
    /// Replaces how the endpoint is delivered to (everything but its secret, which rotates). Filters keep each name
    /// once; a missing timeout is the default.
    /// </summary>
    public void Configure(
        string url, string? description, IEnumerable<string>? eventTypes, IEnumerable<string>? channels, int? rateLimitPerSecond,
        int? timeoutSeconds, IEnumerable<KeyValuePair<string, string>>? headers, IEnumerable<KeyValuePair<string, string>>? metadata,
        IEnumerable<int>? retrySchedule, int? circuitBreakerThreshold, DateTimeOffset now, int? maxInFlight = null,
        DeliveryOrdering ordering = DeliveryOrdering.None)
    {
        Ordering = ordering;
        Url = url;
        Description = description;
        EventTypes = eventTypes?.Distinct(StringComparer.Ordinal).ToArray() ?? [];
        Channels = channels?.Distinct(StringComparer.Ordinal).ToArray() ?? [];
        RateLimitPerSecond = rateLimitPerSecond;
        TimeoutSeconds = timeoutSeconds ?? DefaultTimeoutSeconds;
        Headers = headers?.ToDictionary() ?? [];
        Metadata = metadata?.ToDictionary() ?? [];
        RetrySchedule = retrySchedule?.ToArray();
        CircuitBreakerThreshold = circuitBreakerThreshold;
        MaxInFlight = maxInFlight;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Sets the payload filter (null: none): only the messages whose payload passes it are delivered here from now on.</summary>
    public void SetFilter(Webhooks.Core.Delivery.PayloadFilter? filter, DateTimeOffset now)
    {
        Filter = filter?.Json;
        FilterPath = filter?.Path;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Sets how the body is made; returns whether that changed (the deliveries its old script blocked may go again).</summary>
    public bool SetTransformation(string? transformation, string? format, DateTimeOffset now)
    {
        format ??= "standard";
        if (transformation == Transformation && format == Format)
        {
            return false;
        }
        Transformation = transformation;
        Format = format;
        UpdatedAt = now.AtStoragePrecision();
        return true;
    }

    /// <param name="auth">The protected JSON of the endpoint's authentication, or null to remove it.</param>
    /// <param name="summary">Its public part, as JSON.</param>
    public void SetAuth(string? auth, string? summary, DateTimeOffset now)
    {
        Auth = auth;
        AuthSummary = auth is null ? null : summary;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Starts using <paramref name="secret"/>; the old one keeps signing until the overlap ends.</summary>
    public void RotateSecret(string secret, TimeSpan overlap, DateTimeOffset now)
    {
        PreviousSecret = Secret;
        PreviousSecretExpiresAt = (now + overlap).AtStoragePrecision();
        Secret = secret;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Hides the endpoint and disables it: the worker's claim needs to test only <see cref="Disabled"/>.</summary>
    public void MarkDeleted(DateTimeOffset now)
    {
        DeletedAt = now.AtStoragePrecision();
        Uid = null;
        if (!Disabled)
        {
            Disable("Deleted.", now);
        }
        UpdatedAt = now.AtStoragePrecision();
    }

    public void Disable(string reason, DateTimeOffset now)
    {
        Disabled = true;
        DisabledReason = reason;
        DisabledAt = now.AtStoragePrecision();
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>
    /// Starts over: enabled, the failure streak forgotten and the circuit closed, so every waiting delivery goes now.
    /// Returns the circuit's history entry when this closed it.
    /// </summary>
    public EndpointEvent? Enable(DateTimeOffset now)
    {
        var closed = CircuitOpenedAt is { } openedAt ? EndpointEvent.CircuitClosed(this, "enabled", openedAt, now) : null;
        Disabled = false;
        DisabledReason = null;
        DisabledAt = null;
        ConsecutiveFailures = 0;
        FirstFailureAt = null;
        CircuitOpenedAt = null;
        CircuitRetryAt = null;
        CircuitReopens = 0;
        CircuitProbeId = null;
        UpdatedAt = now.AtStoragePrecision();
        return closed;
    }
}

/// <summary>How an endpoint's deliveries are ordered.</summary>
public enum DeliveryOrdering
{
    /// <summary>As they become due, many at a time.</summary>
    None,
    /// <summary>Per ordering key, one at a time in the order the publishes committed; a failing one blocks the later ones until it succeeds or is exhausted.</summary>
    Fifo,
}

/// <summary>
/// A <c>fifo</c> endpoint's ordering key: the last sequence number given out (<see cref="NextSeq"/>, so the next one is
/// one more) and the sequence number of the one delivery of the key that may go (<see cref="ActiveSeq"/>, its lowest
/// unfinished one; null when none is unfinished). Publishing locks this row until its transaction commits, so sequence
/// order is commit order per key.
/// </summary>
public sealed class OrderingHead
{
    // For EF Core materialization.
    private OrderingHead()
    {
    }

    public string EndpointId { get; private set; }
    /// <summary>The messages' <c>orderingKey</c>; empty for the messages published without one (one sequence per endpoint).</summary>
    public string OrderingKey { get; private set; }
    public long NextSeq { get; private set; }
    public long? ActiveSeq { get; private set; }
}

/// <summary>An endpoint's circuit breaker: <c>closed</c> (delivering), <c>open</c> (holding deliveries through a cool-down), <c>half-open</c> (one probe out).</summary>
public enum CircuitState
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// One entry of an endpoint's history: its circuit opening or closing. Written in the transaction that made the change,
/// which also sends the matching operational webhook (<c>endpoint.circuit_opened</c>, <c>endpoint.circuit_closed</c>).
/// </summary>
public sealed class EndpointEvent
{
    public const string CircuitOpenedKind = "circuit_opened";
    public const string CircuitClosedKind = "circuit_closed";

    // For EF Core materialization.
    private EndpointEvent()
    {
    }

    private EndpointEvent(string endpointId, string applicationId, string kind, string data, DateTimeOffset now)
    {
        EndpointId = endpointId;
        ApplicationId = applicationId;
        Kind = kind;
        Data = data;
        CreatedAt = now.AtStoragePrecision();
    }

    public long Id { get; private set; }
    public string EndpointId { get; private set; }
    public string ApplicationId { get; private set; }
    /// <summary><see cref="CircuitOpenedKind"/> or <see cref="CircuitClosedKind"/>.</summary>
    public string Kind { get; private set; }
    /// <summary>
    /// What went with it, a JSON object: on opening <c>consecutiveFailures</c> and <c>retryAt</c>; on closing <c>openedAt</c>
    /// and <c>reason</c> (<c>succeeded</c>: a delivery got through; <c>enabled</c>: the endpoint was enabled by request).
    /// </summary>
    public string Data { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }

    /// <summary>The circuit closed outside the worker (<paramref name="reason"/>), having been open since <paramref name="openedAt"/>.</summary>
    public static EndpointEvent CircuitClosed(Endpoint endpoint, string reason, DateTimeOffset openedAt, DateTimeOffset now) =>
        new(endpoint.Id, endpoint.ApplicationId, CircuitClosedKind,
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["reason"] = reason, ["openedAt"] = openedAt }), now);
}

/// <summary>One published event. Immutable once stored.</summary>
public sealed class Message
{
    // For EF Core materialization.
    private Message()
    {
    }

    /// <summary>The priority of a message published without one.</summary>
    public const short DefaultPriority = 5;

    /// <summary>The unique index of <see cref="EventId"/> in its application: a publish that breaks it answers 409.</summary>
    public const string EventIdIndex = "ix_messages_application_id_event_id";

    /// <summary>The unique index of (<see cref="SourceId"/>, <see cref="SourceDeliveryId"/>): a sender's repeat that breaks it is a duplicate.</summary>
    public const string SourceDeliveryIndex = "ix_messages_source_id_source_delivery_id";

    public Message(string applicationId, string eventType, string payload, string[] channels, string? idempotencyKey, string? traceParent, DateTimeOffset now,
        short priority = DefaultPriority, string? orderingKey = null, string? eventId = null, bool raw = false, string? sourceId = null,
        string? sourceDeliveryId = null)
    {
        EventId = eventId;
        SourceId = sourceId;
        SourceDeliveryId = sourceDeliveryId;
        Raw = raw;
        Priority = priority;
        OrderingKey = orderingKey;
        Id = Ids.New(Ids.Message);
        ApplicationId = applicationId;
        EventType = eventType;
        Payload = payload;
        Channels = channels;
        IdempotencyKey = idempotencyKey;
        TraceParent = traceParent;
        CreatedAt = now.AtStoragePrecision();
    }

    public string Id { get; private set; }
    public string ApplicationId { get; private set; }
    public string EventType { get; private set; }
    /// <summary>The payload's JSON text exactly as published; delivered byte for byte inside the envelope.</summary>
    public string Payload { get; private set; }
    public string[] Channels { get; private set; }
    public string? IdempotencyKey { get; private set; }
    /// <summary>The W3C traceparent of the publish request, so each attempt's span joins its trace.</summary>
    public string? TraceParent { get; private set; }
    /// <summary>0 to 9, higher first: among due deliveries the worker claims higher priorities first (see <c>DeliveryLifecycle.ClaimOrder</c>).</summary>
    public short Priority { get; private set; } = DefaultPriority;
    /// <summary>For <c>fifo</c> endpoints: the sequence this message joins (null: the endpoint's keyless one).</summary>
    public string? OrderingKey { get; private set; }
    /// <summary>Svix's <c>eventId</c>: unique in its application for as long as the message is kept; usable in place of <see cref="Id"/>.</summary>
    public string? EventId { get; private set; }
    /// <summary>
    /// Sent as Svix sends it: the payload's bytes are the body (no envelope), with <c>svix-*</c> headers besides the
    /// <c>webhook-*</c> ones. Messages published through the Svix surface are raw.
    /// </summary>
    public bool Raw { get; private set; }
    /// <summary>The <see cref="Source"/> whose ingest URL received it; null: published through the API.</summary>
    public string? SourceId { get; private set; }
    /// <summary>The sender's id of the delivery: unique per source, so a sender's retry publishes nothing twice.</summary>
    public string? SourceDeliveryId { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
}

/// <summary>The state of one message's delivery to one endpoint.</summary>
public sealed class Delivery
{
    // For EF Core materialization.
    private Delivery()
    {
    }

    /// <param name="parked">For a disabled endpoint: kept, but not due until the endpoint is enabled.</param>
    public Delivery(string messageId, string endpointId, string applicationId, DateTimeOffset now, bool parked = false)
    {
        MessageId = messageId;
        EndpointId = endpointId;
        ApplicationId = applicationId;
        Status = DeliveryStatus.Pending;
        NextAttemptAt = parked ? null : now.AtStoragePrecision();
        CreatedAt = now.AtStoragePrecision();
        UpdatedAt = now.AtStoragePrecision();
    }

    public long Id { get; private set; }
    public string MessageId { get; private set; }
    public string EndpointId { get; private set; }
    public string ApplicationId { get; private set; }
    public DeliveryStatus Status { get; private set; }
    public int AttemptCount { get; private set; }
    public DateTimeOffset? NextAttemptAt { get; private set; }
    /// <summary>
    /// Held by the endpoint's open circuit: <see cref="NextAttemptAt"/> is null meanwhile, and this is when the delivery is
    /// due once the circuit closes (or when it may go as the probe), so holding it never brings a retry forward.
    /// </summary>
    public DateTimeOffset? HeldDueAt { get; private set; }
    public string? LeaseOwner { get; private set; }
    public DateTimeOffset? LeaseExpiresAt { get; private set; }
    public int? LastStatusCode { get; private set; }
    /// <summary>
    /// The endpoint's transformation failed on this delivery: not due (<see cref="NextAttemptAt"/> null) until the
    /// transformation or format changes, or it is resent.
    /// </summary>
    public bool TransformationBlocked { get; private set; }
    /// <summary>Why the next attempt is made: <c>manual</c> after a resend or recover, <c>test</c> for a test event; back to scheduled after it.</summary>
    public AttemptTrigger Trigger { get; private set; }
    /// <summary>The message's priority, copied so the claim reads no other table.</summary>
    public short Priority { get; private set; } = Message.DefaultPriority;
    /// <summary>To a <c>fifo</c> endpoint: the message's ordering key ('' for none); null for an unordered delivery.</summary>
    public string? OrderingKey { get; private set; }
    /// <summary>To a <c>fifo</c> endpoint: its place in its key's sequence (<see cref="OrderingHead"/>); null for an unordered delivery.</summary>
    public long? OrderingSeq { get; private set; }
    /// <summary>Waiting behind an earlier delivery of its ordering key: not due (<see cref="NextAttemptAt"/> null) until that one finishes.</summary>
    public bool Queued { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }

    /// <summary>A test delivery: attempted once, now, and not retried.</summary>
    public static Delivery ForTest(string messageId, string endpointId, string applicationId, DateTimeOffset now) =>
        new(messageId, endpointId, applicationId, now) { Trigger = AttemptTrigger.Test };
}

public enum DeliveryStatus
{
    Pending,
    InFlight,
    Succeeded,
    Failed,
    Exhausted,
    Cancelled,
}

public enum AttemptTrigger
{
    Scheduled,
    Manual,
    Test,
}

/// <summary>One HTTP request to an endpoint and what came back.</summary>
public sealed class DeliveryAttempt
{
    public const int MaxResponseBodyBytes = 4096;

    // For EF Core materialization.
    private DeliveryAttempt()
    {
    }

    public DeliveryAttempt(long deliveryId, string messageId, string endpointId, string url, AttemptTrigger trigger, DateTimeOffset startedAt)
    {
        Id = Ids.New(Ids.Attempt);
        DeliveryId = deliveryId;
        MessageId = messageId;
        EndpointId = endpointId;
        Url = url;
        Trigger = trigger;
        StartedAt = startedAt.AtStoragePrecision();
    }

    public string Id { get; private set; }
    public long DeliveryId { get; private set; }
    public string MessageId { get; private set; }
    public string EndpointId { get; private set; }
    public string Url { get; private set; }
    public AttemptTrigger Trigger { get; private set; }
    public DateTimeOffset StartedAt { get; private set; }
    public int DurationMs { get; set; }
    /// <summary>The headers sent, with the values of credential-like custom headers redacted.</summary>
    public Dictionary<string, string>? RequestHeaders { get; set; }
    public int? ResponseStatus { get; set; }
    public Dictionary<string, string>? ResponseHeaders { get; set; }
    public string? ResponseBody { get; set; }
    public string? ErrorKind { get; set; }
    public string? ErrorMessage { get; set; }
    public bool Succeeded { get; set; }
    /// <summary>
    /// The W3C trace id of the worker's span for this attempt (the publish request's trace, which the attempt joins),
    /// so a trace viewer can show it; null when tracing was off.
    /// </summary>
    public string? TraceId { get; set; }
    /// <summary>The receiver answered 401 to a cached OAuth 2.0 token, and the attempt was sent again with a fresh one.</summary>
    public bool TokenRefreshed { get; set; }
}

/// <summary>
/// The first answer to a POST of the Svix surface sent with an <c>idempotency-key</c>, kept 12 hours and given back to
/// every repeat of the same key, path and credential (see <c>SvixIdempotency</c>). While <see cref="Status"/> is null the first
/// request is still running; a repeat waits for it, unless <see cref="LockedUntil"/> passed (that request died).
/// </summary>
public sealed class IdempotentResponse
{
    // For EF Core materialization.
    private IdempotentResponse()
    {
    }

    /// <summary>SHA-256 of the credential, the key and the path with its query.</summary>
    public byte[] KeyHash { get; private set; }
    public int? Status { get; private set; }
    public string? ContentType { get; private set; }
    public byte[]? Body { get; private set; }
    public DateTimeOffset LockedUntil { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
}

public static class StoragePrecision
{
    /// <summary>Postgres keeps microseconds; .NET ticks are 100 ns. Truncating first keeps what an API returns equal to what it stores.</summary>
    public static DateTimeOffset AtStoragePrecision(this DateTimeOffset value) => new(value.Ticks - (value.Ticks % 10), value.Offset);
}
