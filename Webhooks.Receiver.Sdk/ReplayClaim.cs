namespace Webhooks.Receiver.Sdk;

/// <summary>What a replay store knows of a webhook id when a request for it arrives.</summary>
public enum ReplayClaim
{
    /// <summary>Not seen: this request now owns the id until it completes or releases it.</summary>
    Claimed,
    /// <summary>Already handled successfully: answer 2xx without handling again.</summary>
    AlreadyHandled,
    /// <summary>Another request is handling it right now: answer 503 with a <c>Retry-After</c>, so the sender retries later.</summary>
    InProgress,
}
