using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

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
#if NET9_0_OR_GREATER
    private readonly Lock _lock = new();
#else
    private readonly object _lock = new(); // System.Threading.Lock is .NET 9 and later
#endif
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
