using Webhooks.Core.Data;

namespace Webhooks.Core.Delivery;

/// <summary>How an attempt ended, as far as the delivery rules care.</summary>
public enum AttemptOutcome
{
    /// <summary>2xx.</summary>
    Succeeded,
    /// <summary>Network error, timeout, 408, 429 or 5xx: try again later.</summary>
    Retryable,
    /// <summary>Any other 4xx, or a 3xx (redirects are never followed): no point retrying.</summary>
    Rejected,
    /// <summary>410 Gone: the receiver asks never to be called again; the endpoint is disabled.</summary>
    Gone,
}

/// <summary>What happens to a delivery after an attempt.</summary>
public readonly record struct DeliveryDecision(DeliveryStatus Status, DateTimeOffset? NextAttemptAt, bool DisableEndpoint);

/// <summary>The status transitions of a delivery: one implementation, used by every sender.</summary>
public static class DeliveryRules
{
    /// <summary>The longest wait a <c>Retry-After</c> header can impose.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(6);

    public static AttemptOutcome Classify(int? statusCode) => statusCode switch
    {
        null => AttemptOutcome.Retryable,
        >= 200 and < 300 => AttemptOutcome.Succeeded,
        410 => AttemptOutcome.Gone,
        408 or 429 or >= 500 => AttemptOutcome.Retryable,
        _ => AttemptOutcome.Rejected,
    };

    /// <summary>
    /// The next state after attempt number <paramref name="attemptsMade"/> ended with <paramref name="outcome"/>.
    /// A retry waits the schedule's delay or the receiver's <c>Retry-After</c>, whichever is longer.
    /// </summary>
    public static DeliveryDecision Decide(
        int attemptsMade, AttemptOutcome outcome, TimeSpan? retryAfter, RetrySchedule schedule, DateTimeOffset now, Random random)
    {
        switch (outcome)
        {
            case AttemptOutcome.Succeeded:
                return new DeliveryDecision(DeliveryStatus.Succeeded, null, false);
            case AttemptOutcome.Gone:
                return new DeliveryDecision(DeliveryStatus.Exhausted, null, true);
            case AttemptOutcome.Rejected:
                return new DeliveryDecision(DeliveryStatus.Exhausted, null, false);
        }
        if (schedule.DelayBefore(attemptsMade + 1, random) is not { } delay)
        {
            return new DeliveryDecision(DeliveryStatus.Exhausted, null, false);
        }
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxRetryAfter ? asked : MaxRetryAfter;
        }
        return new DeliveryDecision(DeliveryStatus.Failed, now + delay, false);
    }
}
