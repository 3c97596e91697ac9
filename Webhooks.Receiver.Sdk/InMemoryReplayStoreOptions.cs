namespace Webhooks.Receiver.Sdk;

/// <summary>Settings of <see cref="InMemoryReplayStore"/>.</summary>
public sealed class InMemoryReplayStoreOptions
{
    /// <summary>
    /// How long a handled id is remembered, unless <see cref="MaxHandledIds"/> is reached first; never less than the
    /// receiver's replay window (twice the tolerance plus a minute). Default 48 hours: longer than the sender's whole
    /// retry schedule (about 33 hours for Webhooks.Aspire and Svix), so a late retry of a handled webhook is not
    /// handled again. From 1 hour to 30 days.
    /// </summary>
    public TimeSpan HandledRetention { get; set; } = TimeSpan.FromHours(48);

    /// <summary>
    /// The most handled ids remembered; past it the oldest are forgotten first. Default 100,000 (a few tens of MB).
    /// </summary>
    public int MaxHandledIds { get; set; } = 100_000;
}
