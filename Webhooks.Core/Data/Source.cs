// EF Core sets the non-nullable properties of the parameterless constructors when it materializes rows.
#pragma warning disable CS8618

namespace Webhooks.Core.Data;

/// <summary>
/// A sender that posts webhooks in (GitHub, Stripe, a Standard Webhooks sender): what it posts to its ingest URL is
/// verified with its secret, deduplicated by the sender's delivery id, and published as a message of the application.
/// </summary>
public sealed class Source
{
    /// <summary>Requests per second a source takes by default (each API process), with bursts of twice that.</summary>
    public const int DefaultRateLimitPerSecond = 100;

    // For EF Core materialization.
    private Source()
    {
    }

    public Source(string applicationId, string name, string type, string secret, string ingestToken, int rateLimitPerSecond, DateTimeOffset now)
    {
        Id = Ids.New(Ids.Source);
        ApplicationId = applicationId;
        Name = name;
        Type = type;
        Secret = secret;
        IngestToken = ingestToken;
        RateLimitPerSecond = rateLimitPerSecond;
        CreatedAt = now.AtStoragePrecision();
        UpdatedAt = CreatedAt;
    }

    public string Id { get; private set; }
    public string ApplicationId { get; private set; }
    public string Name { get; private set; }
    /// <summary>How the sender signs and names its events: <c>github</c>, <c>stripe</c>, <c>standard-webhooks</c>.</summary>
    public string Type { get; private set; }
    /// <summary>The secret the sender signs with, encrypted (<see cref="SecretProtector"/>).</summary>
    public string Secret { get; private set; }
    public string? PreviousSecret { get; private set; }
    public DateTimeOffset? PreviousSecretExpiresAt { get; private set; }
    /// <summary>The unguessable last segment of the ingest URL (not the id, which lists and logs show).</summary>
    public string IngestToken { get; private set; }
    public int RateLimitPerSecond { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }

    public void Update(string name, int rateLimitPerSecond, DateTimeOffset now)
    {
        Name = name;
        RateLimitPerSecond = rateLimitPerSecond;
        UpdatedAt = now.AtStoragePrecision();
    }

    public void ChangeIngestToken(string token, DateTimeOffset now)
    {
        IngestToken = token;
        UpdatedAt = now.AtStoragePrecision();
    }

    /// <summary>Verifies with <paramref name="secret"/> from now on; signatures made with the old one pass until the overlap ends.</summary>
    public void RotateSecret(string secret, TimeSpan overlap, DateTimeOffset now)
    {
        PreviousSecret = Secret;
        PreviousSecretExpiresAt = (now + overlap).AtStoragePrecision();
        Secret = secret;
        UpdatedAt = now.AtStoragePrecision();
    }
}

/// <summary>One request to a source's ingest URL, as the source's log shows it: what came in and what became of it.</summary>
public sealed class SourceEvent
{
    /// <summary>The most characters of a refused body kept, for telling what it was.</summary>
    public const int PreviewLength = 256;

    // For EF Core materialization.
    private SourceEvent()
    {
    }

    public SourceEvent(string sourceId, string applicationId, int status, string outcome, string? reason, string? deliveryId, string? eventType,
        string? messageId, long bodyBytes, string? preview, DateTimeOffset now)
    {
        SourceId = sourceId;
        ApplicationId = applicationId;
        Status = status;
        Outcome = outcome;
        Reason = reason;
        DeliveryId = deliveryId;
        EventType = eventType;
        MessageId = messageId;
        BodyBytes = bodyBytes;
        Preview = preview;
        ReceivedAt = now.AtStoragePrecision();
    }

    public long Id { get; private set; }
    public string SourceId { get; private set; }
    public string ApplicationId { get; private set; }
    /// <summary>The HTTP status answered.</summary>
    public int Status { get; private set; }
    /// <summary><c>published</c>, <c>duplicate</c> or <c>refused</c>.</summary>
    public string Outcome { get; private set; }
    public string? Reason { get; private set; }
    /// <summary>The sender's own id of the delivery (GitHub's <c>X-GitHub-Delivery</c>, Stripe's event id, <c>webhook-id</c>).</summary>
    public string? DeliveryId { get; private set; }
    public string? EventType { get; private set; }
    public string? MessageId { get; private set; }
    public long BodyBytes { get; private set; }
    /// <summary>The start of a refused body (control characters replaced); null for what was published (the message keeps it).</summary>
    public string? Preview { get; private set; }
    public DateTimeOffset ReceivedAt { get; private set; }
}
