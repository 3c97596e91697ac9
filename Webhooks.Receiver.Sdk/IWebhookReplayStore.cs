namespace Webhooks.Receiver.Sdk;

/// <summary>
/// Remembers which webhook ids were handled, so a replayed or retried request runs its handler once.
/// An id counts as handled only after <see cref="CompleteAsync"/>; a failed attempt releases it.
/// </summary>
public interface IWebhookReplayStore
{
    /// <summary>
    /// Atomically claims an id for handling. A claim that is neither completed nor released (a crash) must expire
    /// after a short while, so it does not block the sender's retries for long.
    /// </summary>
    /// <param name="id">The <c>webhook-id</c>.</param>
    /// <param name="retention">The least time a handled id must be remembered: the receiver's replay window.</param>
    /// <param name="cancellationToken">Cancelled when the sender disconnects.</param>
    ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>
    /// Records the id as handled, remembered for at least <paramref name="retention"/>: the replay window, within
    /// which a replayed request's timestamp still passes. A store may keep it longer (and should, to cover the
    /// sender's retries: see <see cref="InMemoryReplayStoreOptions.HandledRetention"/>).
    /// </summary>
    ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>Forgets a claim whose handler failed, so the sender's retry is handled.</summary>
    ValueTask ReleaseAsync(string id, CancellationToken cancellationToken);
}
