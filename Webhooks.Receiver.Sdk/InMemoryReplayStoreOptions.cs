namespace Webhooks.Receiver.Sdk;

/// <summary>Settings of <see cref="InMemoryReplayStore"/>.</summary>
public sealed class InMemoryReplayStoreOptions
{
    /// <summary>
    /// How long a handled id is remembered, unless <see cref="MaxHandledIds"/> is reached first; never less than the
    /// receiver's replay window (twice the tolerance plus a minute). Default 72 hours: longer than the sender's whole
    /// retry schedule (Webhooks.Aspire's default ends at most 54 hours after the first attempt, when every retry is
    /// stretched by a 6-hour <c>Retry-After</c>), so a late retry of a handled webhook is not handled again. From 1
    /// hour to 30 days.
    /// </summary>
    public TimeSpan HandledRetention { get; set; } = TimeSpan.FromHours(72);

    /// <summary>
    /// The most handled ids remembered; past it the oldest are forgotten first. Default 100,000 (a few tens of MB).
    /// </summary>
    public int MaxHandledIds { get; set; } = 100_000;
}
