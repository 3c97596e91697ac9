using System.Collections.Concurrent;

namespace Webhooks.Receiver.Sdk;

/// <summary>What a replay store knows of a webhook id when a request for it arrives.</summary>
public enum ReplayClaim
{
    /// <summary>Not seen: this request now owns the id until it completes or releases it.</summary>
    Claimed,
    /// <summary>Already handled successfully: answer 2xx without handling again.</summary>
    AlreadyHandled,
    /// <summary>Another request is handling it right now: answer 409 so the sender retries later.</summary>
    InProgress,
}

/// <summary>
/// Remembers which webhook ids were handled, so a replayed or retried request runs its handler once.
/// An id counts as handled only after <see cref="CompleteAsync"/>; a failed attempt releases it.
/// </summary>
public interface IWebhookReplayStore
{
    /// <summary>Atomically claims an id for handling.</summary>
    ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>Records the id as handled, kept for <paramref name="retention"/>.</summary>
    ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>Forgets a claim whose handler failed, so the sender's retry is handled.</summary>
    ValueTask ReleaseAsync(string id, CancellationToken cancellationToken);
}

/// <summary>The default replay store, for a single receiver instance.</summary>
public sealed class InMemoryReplayStore(TimeProvider time) : IWebhookReplayStore
{
    // A claim in progress expires too, so a crashed handler cannot block an id forever.
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _claims;

    private readonly record struct Entry(bool Handled, DateTimeOffset ExpiresAt);

    /// <inheritdoc />
    public ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (Interlocked.Increment(ref _claims) % 1024 == 0)
        {
            Purge(now);
        }
        var claim = new Entry(false, now + ClaimTimeout);
        while (true)
        {
            if (_entries.TryAdd(id, claim))
            {
                return ValueTask.FromResult(ReplayClaim.Claimed);
            }
            if (!_entries.TryGetValue(id, out var existing))
            {
                continue;
            }
            if (existing.ExpiresAt > now)
            {
                return ValueTask.FromResult(existing.Handled ? ReplayClaim.AlreadyHandled : ReplayClaim.InProgress);
            }
            if (_entries.TryUpdate(id, claim, existing))
            {
                return ValueTask.FromResult(ReplayClaim.Claimed);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken)
    {
        _entries[id] = new Entry(true, time.GetUtcNow() + retention);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string id, CancellationToken cancellationToken)
    {
        _entries.TryRemove(id, out _);
        return ValueTask.CompletedTask;
    }

    private void Purge(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.ExpiresAt <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            }
        }
    }
}
