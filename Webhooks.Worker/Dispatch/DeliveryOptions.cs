using System.ComponentModel.DataAnnotations;
using Webhooks.Core.Delivery;

namespace Webhooks.Worker.Dispatch;

/// <summary>The delivery engine's settings, bound from <c>Webhooks:Delivery</c>.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Webhooks:Delivery";

    /// <summary>Requests in flight at once from one worker; also the most deliveries one claim takes.</summary>
    [Range(1, 4096)]
    public int MaxConcurrency { get; set; } = 128;

    /// <summary>How often the dispatcher polls when no wake-up signal comes (Redis down, or a retry fell due).</summary>
    [Range(0.05, 60)]
    public double PollIntervalSeconds { get; set; } = 1;

    /// <summary>How long a lease outlasts the endpoint's timeout: time to record the attempt.</summary>
    [Range(5, 3600)]
    public int LeaseMarginSeconds { get; set; } = 30;

    /// <summary>Retry delays in seconds (the first is before the first attempt, normally 0). Empty: the default schedule.</summary>
    public double[] RetryScheduleSeconds { get; set; } = [];

    /// <summary>Lets deliveries reach loopback, private and link-local addresses. Off in production: SSRF guard.</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Attempts and finished messages older than this are deleted.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    public RetrySchedule RetrySchedule => RetryScheduleSeconds.Length == 0
        ? RetrySchedule.Default
        : new RetrySchedule(RetryScheduleSeconds.Select(TimeSpan.FromSeconds).ToArray());
}
