namespace Webhooks.Core.Delivery;

/// <summary>
/// When each attempt of a delivery happens: <see cref="Delays"/>[n] is the wait before attempt n+1
/// (the first is normally zero: immediately), each varied by ±<see cref="Jitter"/>.
/// </summary>
public sealed record RetrySchedule(IReadOnlyList<TimeSpan> Delays, double Jitter = 0.2)
{
    /// <summary>Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.</summary>
    public static RetrySchedule Default { get; } = new(
    [
        TimeSpan.Zero,
        TimeSpan.FromSeconds(5),
        TimeSpan.FromMinutes(5),
        TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2),
        TimeSpan.FromHours(5),
        TimeSpan.FromHours(10),
        TimeSpan.FromHours(10),
    ]);

    public int MaxAttempts => Delays.Count;

    /// <summary>
    /// The longest time from the first attempt to the last: every wait at its jitter's top, or stretched to the longest
    /// <c>Retry-After</c> a receiver may ask (<paramref name="maxRetryAfter"/>) where that is longer. A receiver that
    /// remembers handled ids for less than this may run a late retry's handler twice. The default schedule: 54 hours.
    /// </summary>
    public TimeSpan LongestSpan(TimeSpan maxRetryAfter) =>
        Delays.Skip(1).Aggregate(TimeSpan.Zero, (sum, delay) =>
        {
            var longest = TimeSpan.FromTicks((long)(delay.Ticks * (1 + Jitter)));
            return sum + (longest > maxRetryAfter ? longest : maxRetryAfter);
        });

    /// <summary>An endpoint's or application's own schedule (delays in seconds), or <paramref name="fallback"/> when it has none.</summary>
    public static RetrySchedule Of(int[]? seconds, RetrySchedule fallback) =>
        seconds is { Length: > 0 } ? new RetrySchedule(seconds.Select(s => TimeSpan.FromSeconds(s)).ToArray()) : fallback;

    /// <summary>The wait before attempt <paramref name="attempt"/> (1-based), or null past the last one.</summary>
    public TimeSpan? DelayBefore(int attempt, Random random)
    {
        if (attempt < 1 || attempt > Delays.Count)
        {
            return null;
        }
        var delay = Delays[attempt - 1];
        var factor = 1 + ((random.NextDouble() * 2) - 1) * Jitter;
        return TimeSpan.FromTicks((long)(delay.Ticks * factor));
    }
}
