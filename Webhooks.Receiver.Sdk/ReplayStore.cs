using Microsoft.Extensions.Options;

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

/// <summary>
/// The default replay store: memory of this process only. It guarantees, per process, that an id is handled once
/// while it is remembered: for <see cref="InMemoryReplayStoreOptions.HandledRetention"/> (and at least the replay
/// window) unless more than <see cref="InMemoryReplayStoreOptions.MaxHandledIds"/> ids were handled since. Nothing
/// is shared: another instance, or this one after a restart, may handle a retry of the same webhook again. Use the
/// Redis store (<c>Webhooks.Receiver.Sdk.Redis</c>) with several instances.
/// </summary>
public sealed class InMemoryReplayStore : IWebhookReplayStore
{
    // A claim in progress expires too, so a handler that hangs cannot block an id forever.
    internal static readonly TimeSpan ClaimTimeout = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;
    private readonly InMemoryReplayStoreOptions _options;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _inProgress = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _handled = new(StringComparer.Ordinal);
    // Handled ids in the order they were recorded, which is the order they expire in while the retention holds:
    // expiry and the count bound both forget from the head.
    private readonly Queue<(string Id, DateTimeOffset ExpiresAt)> _handledOrder = new();

    /// <summary>Creates the store; the options are read once.</summary>
    public InMemoryReplayStore(TimeProvider time, IOptions<InMemoryReplayStoreOptions> options)
    {
        _time = time;
        _options = options.Value;
    }

    /// <inheritdoc />
    public ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            Forget(now);
            if (_handled.TryGetValue(id, out var expires) && expires > now)
            {
                return ValueTask.FromResult(ReplayClaim.AlreadyHandled);
            }
            if (_inProgress.TryGetValue(id, out var until) && until > now)
            {
                return ValueTask.FromResult(ReplayClaim.InProgress);
            }
            _inProgress[id] = now + ClaimTimeout;
            return ValueTask.FromResult(ReplayClaim.Claimed);
        }
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var expires = now + (retention > _options.HandledRetention ? retention : _options.HandledRetention);
        lock (_lock)
        {
            _inProgress.Remove(id);
            _handled[id] = expires;
            _handledOrder.Enqueue((id, expires));
            Forget(now);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _inProgress.Remove(id);
        }
        return ValueTask.CompletedTask;
    }

    private void Forget(DateTimeOffset now)
    {
        while (_handledOrder.TryPeek(out var oldest) && (oldest.ExpiresAt <= now || _handled.Count > _options.MaxHandledIds))
        {
            _handledOrder.Dequeue();
            // An id recorded twice (its claim had expired) is forgotten by its latest entry only.
            if (_handled.TryGetValue(oldest.Id, out var expires) && expires == oldest.ExpiresAt)
            {
                _handled.Remove(oldest.Id);
            }
        }
    }
}

internal sealed class InMemoryReplayStoreOptionsValidator : IValidateOptions<InMemoryReplayStoreOptions>
{
    public static readonly TimeSpan MinRetention = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(30);

    public ValidateOptionsResult Validate(string? name, InMemoryReplayStoreOptions options)
    {
        var failures = new List<string>();
        if (options.HandledRetention < MinRetention || options.HandledRetention > MaxRetention)
        {
            failures.Add($"{nameof(InMemoryReplayStoreOptions)}.{nameof(InMemoryReplayStoreOptions.HandledRetention)} is {options.HandledRetention}; it must be from 1 hour to 30 days (default 48 hours, longer than the sender's retries).");
        }
        if (options.MaxHandledIds < 1)
        {
            failures.Add($"{nameof(InMemoryReplayStoreOptions)}.{nameof(InMemoryReplayStoreOptions.MaxHandledIds)} must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
