using System.Text.Json;
using System.Text.Json.Serialization;

namespace Webhooks.Api.Svix;

// The shapes of Svix's API (its OpenAPI document, server/openapi.json of svix-webhooks), as its SDKs send and read them.
// Fields Svix accepts that this server does not act on are read (so they can be refused by name where ignoring them
// would surprise) or ignored where Svix itself ignores them. See docs/svix.md.

public sealed record SvixApplicationIn(
    string Name,
    string? Uid = null,
    int? ThrottleRate = null,
    int? RateLimit = null,
    Dictionary<string, string>? Metadata = null);

public sealed record SvixApplicationOut(
    string Id,
    string? Uid,
    string Name,
    int? ThrottleRate,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>An endpoint to create (POST) or replace (PUT: <see cref="Secret"/> is ignored, as in Svix).</summary>
public sealed record SvixEndpointIn(
    string Url,
    string? Description = null,
    string? Uid = null,
    bool? Disabled = null,
    IReadOnlyList<string>? EventTypes = null,
    IReadOnlyList<string>? FilterTypes = null,
    IReadOnlyList<string>? Channels = null,
    int? ThrottleRate = null,
    int? RateLimit = null,
    string? Secret = null,
    Dictionary<string, string>? Metadata = null,
    Dictionary<string, string>? Headers = null,
    int? Version = null)
{
    /// <summary>Svix's <c>eventTypes</c>, or its older name <c>filterTypes</c>.</summary>
    [JsonIgnore]
    public IReadOnlyList<string>? Types => EventTypes ?? FilterTypes;

    /// <summary>Svix's <c>throttleRate</c>, or its older name <c>rateLimit</c>.</summary>
    [JsonIgnore]
    public int? Throttle => ThrottleRate ?? RateLimit;
}

public sealed record SvixEndpointOut(
    string Id,
    string? Uid,
    string Url,
    string Description,
    bool Disabled,
    IReadOnlyList<string>? EventTypes,
    IReadOnlyList<string>? FilterTypes,
    IReadOnlyList<string>? Channels,
    int? ThrottleRate,
    int? RateLimit,
    IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int Version = 1);

public sealed record SvixEndpointSecretOut(string Key);

public sealed record SvixSecretRotateIn(string? Key = null, long? GracePeriodSeconds = null);

public sealed record SvixHeadersIn(Dictionary<string, string> Headers);

public sealed record SvixHeadersOut(IReadOnlyDictionary<string, string> Headers, IReadOnlyList<string> Sensitive);

public sealed record SvixRecoverIn(DateTimeOffset Since, DateTimeOffset? Until = null);

public sealed record SvixRecoverOut(string Id, string Status, string Task, DateTimeOffset UpdatedAt);

public sealed record SvixMessageIn(
    string EventType,
    JsonElement Payload,
    string? EventId = null,
    IReadOnlyList<string>? Channels = null,
    long? PayloadRetentionPeriod = null,
    long? PayloadRetentionHours = null,
    SvixApplicationIn? Application = null,
    IReadOnlyList<string>? Tags = null,
    DateTimeOffset? DeliverAt = null,
    JsonElement? TransformationsParams = null);

public sealed record SvixMessageOut(
    string Id,
    string? EventId,
    string EventType,
    JsonElement Payload,
    IReadOnlyList<string>? Channels,
    DateTimeOffset Timestamp);

public sealed record SvixAttemptOut(
    string Id,
    string MsgId,
    string EndpointId,
    string Url,
    string Response,
    int ResponseStatusCode,
    long ResponseDurationMs,
    int Status,
    string StatusText,
    int TriggerType,
    DateTimeOffset Timestamp);

public sealed record SvixEventTypeIn(
    string Name,
    string? Description = null,
    bool? Archived = null,
    bool? Deprecated = null,
    JsonElement? Schemas = null,
    string? FeatureFlag = null,
    IReadOnlyList<string>? FeatureFlags = null,
    string? GroupName = null);

/// <summary>An event type replaced (PUT): <see cref="SvixEventTypeIn"/> without the name, which is the path's.</summary>
public sealed record SvixEventTypeUpdate(
    string? Description = null,
    bool? Archived = null,
    bool? Deprecated = null,
    JsonElement? Schemas = null,
    string? FeatureFlag = null,
    IReadOnlyList<string>? FeatureFlags = null,
    string? GroupName = null);

public sealed record SvixEventTypeOut(
    string Name,
    string Description,
    bool Archived,
    bool Deprecated,
    JsonElement? Schemas,
    string? FeatureFlag,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record SvixPortalAccessIn(
    SvixApplicationIn? Application = null,
    IReadOnlyList<string>? FeatureFlags = null,
    bool? ReadOnly = null,
    IReadOnlyList<string>? Capabilities = null,
    long? Expiry = null,
    string? SessionId = null);

public sealed record SvixPortalAccessOut(string Url, string Token);

/// <summary>A page of a Svix list: pass <see cref="Iterator"/> for the next page, <see cref="PrevIterator"/> for the one before.</summary>
public sealed record SvixList<T>(IReadOnlyList<T> Data, bool Done, string? Iterator, string? PrevIterator);

/// <summary>Svix's <c>EmptyResponse</c>: <c>{}</c> (its SDK parses the body of every 2xx but 204).</summary>
public sealed record SvixEmpty;
