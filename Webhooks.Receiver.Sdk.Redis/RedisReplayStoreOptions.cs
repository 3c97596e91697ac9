namespace Webhooks.Receiver.Sdk.Redis;

/// <summary>Settings of <see cref="RedisReplayStore"/>, checked when the app starts.</summary>
public sealed class RedisReplayStoreOptions
{
    /// <summary>Prefix of the keys, so several receivers can share one Redis. Default <c>webhooks:seen:</c>.</summary>
    public string KeyPrefix { get; set; } = "webhooks:seen:";

    /// <summary>
    /// How long a handled id is kept (never less than the receiver's replay window). Default 72 hours: the delivery
    /// engine's default schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 %) ends at most
    /// 54 hours after the first attempt (when the receiver stretches every retry with a 6-hour <c>Retry-After</c>;
    /// about 33 hours otherwise). From 1 hour to 30 days; raise it if your sender retries for longer.
    /// </summary>
    public TimeSpan HandledRetention { get; set; } = TimeSpan.FromHours(72);

    /// <summary>
    /// How long an in-progress claim blocks other requests for the same id if its handler never finishes (a crash).
    /// Meanwhile they are answered 503 and retried. Keep it above your handlers' longest run. Default 1 minute;
    /// from 1 second to 1 hour.
    /// </summary>
    public TimeSpan ClaimTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
