using Refit;

namespace Webhooks.Client;

// Query strings of the list routes. Lists are newest first; pass a page's Iterator back for the next page.

/// <summary>
/// Filters of <c>GET /apps/{appId}/messages</c>. <see cref="Status"/>: what became of a message's deliveries (see
/// <see cref="MessageStatuses"/>). <see cref="EndpointId"/>: only messages with a delivery to that endpoint.
/// <see cref="Search"/>: a message id, idempotency key or <c>eventId</c>, exactly. <see cref="PayloadFilter"/>: a payload
/// filter in the endpoint filters' syntax (JSON, e.g. <c>{"amount":{"$gte":100}}</c>), run by Postgres on each payload the
/// other filters leave (give a time range on large lists). <see cref="Iterator"/> pages to older messages,
/// <see cref="NewerThan"/> (the first id of a page) to the newer ones.
/// </summary>
public sealed record MessageQuery(
    string? EventType = null,
    string? Channel = null,
    [property: Query(Format = "o")] DateTimeOffset? Since = null,
    [property: Query(Format = "o")] DateTimeOffset? Until = null,
    int? Limit = null,
    string? Iterator = null,
    string? Status = null,
    string? EndpointId = null,
    string? Search = null,
    string? NewerThan = null,
    string? PayloadFilter = null);

/// <summary>A message's status, from its deliveries: the values of <see cref="MessageOut.Status"/> and of the <c>status</c> filter.</summary>
public static class MessageStatuses
{
    /// <summary>Every delivery succeeded.</summary>
    public const string Delivered = "delivered";
    /// <summary>Some delivery waits for its first attempt or is being attempted; none has failed.</summary>
    public const string Pending = "pending";
    /// <summary>Some delivery failed and will be retried.</summary>
    public const string Failing = "failing";
    /// <summary>Some delivery failed for good (its retries are exhausted): resend or recover it.</summary>
    public const string Exhausted = "exhausted";
    /// <summary>No endpoint took it (none subscribed, or their filters left it out).</summary>
    public const string FilteredOut = "filtered_out";
    /// <summary>Nothing waits or failed, but some delivery ended unsent: its endpoint was deleted, or its transformation cancelled it.</summary>
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All = [Delivered, Pending, Failing, Exhausted, Cancelled, FilteredOut];
}

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
