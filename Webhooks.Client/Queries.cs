using Refit;

namespace Webhooks.Client;

// Query strings of the list routes. Lists are newest first; pass a page's Iterator back for the next page.

/// <summary>Filters of <c>GET /apps/{appId}/messages</c>.</summary>
public sealed record MessageQuery(
    string? EventType = null,
    string? Channel = null,
    [property: Query(Format = "o")] DateTimeOffset? Since = null,
    [property: Query(Format = "o")] DateTimeOffset? Until = null,
    int? Limit = null,
    string? Iterator = null);

/// <summary>Filters of the delivery lists: <c>status</c> is pending, in_flight, succeeded, failed, exhausted or cancelled.</summary>
public sealed record DeliveryQuery(
    string? Status = null,
    [property: Query(Format = "o")] DateTimeOffset? Since = null,
    int? Limit = null,
    string? Iterator = null);

/// <summary>Filters of the attempt lists: <c>status</c> is succeeded or failed.</summary>
public sealed record AttemptQuery(
    string? Status = null,
    [property: Query(Format = "o")] DateTimeOffset? Since = null,
    int? Limit = null,
    string? Iterator = null);
