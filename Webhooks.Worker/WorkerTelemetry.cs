using System.Diagnostics;
using System.Diagnostics.Metrics;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Worker;

/// <summary>The worker's traces and metrics, in one place: one activity source and one meter, both "Webhooks.Worker".</summary>
public static class WorkerTelemetry
{
    public const string Name = "Webhooks.Worker";

    /// <summary>Each attempt is a client span in the publisher's trace.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Attempts = Meter.CreateCounter<long>("webhooks.delivery.attempts", description: "Delivery attempts, by outcome");
    private static readonly Histogram<double> AttemptDuration = Meter.CreateHistogram<double>("webhooks.delivery.attempt.duration", "ms", "Duration of delivery attempts");
    private static readonly Histogram<double> EndToEnd = Meter.CreateHistogram<double>("webhooks.delivery.end_to_end", "ms",
        "From a message's publish to its delivery's success being recorded");
    private static long _dueBacklog;
    private static readonly ObservableGauge<long> DueBacklog = Meter.CreateObservableGauge("webhooks.delivery.due_backlog", () => Volatile.Read(ref _dueBacklog),
        description: "Deliveries due and not yet claimed, as last counted");

    public static void AttemptFinished(AttemptOutcome outcome, int durationMs)
    {
        Attempts.Add(1, new KeyValuePair<string, object?>("outcome", SnakeCase.Of(outcome)));
        AttemptDuration.Record(durationMs);
    }

    /// <summary>A delivery's success was recorded, <paramref name="sincePublish"/> after its message was published.</summary>
    public static void Delivered(TimeSpan sincePublish) => EndToEnd.Record(Math.Max(0, sincePublish.TotalMilliseconds));

    /// <summary>
    /// A span of batch work (the claim that leased a delivery, the record that stored its attempt) in one message's trace,
    /// with the batch's own start and end: each message's trace shows the batch it was part of.
    /// </summary>
    public static void Span(string name, string? traceParent, DateTimeOffset started, DateTimeOffset ended, string messageId)
    {
        if (ActivitySource.HasListeners() && ActivityContext.TryParse(traceParent, null, out var parent))
        {
            Span(name, parent, started, ended, messageId);
        }
    }

    /// <summary><see cref="Span(string, string?, DateTimeOffset, DateTimeOffset, string)"/> for a parent already parsed.</summary>
    public static void Span(string name, ActivityContext parent, DateTimeOffset started, DateTimeOffset ended, string messageId)
    {
        if (parent == default || !ActivitySource.HasListeners())
        {
            return;
        }
        using var activity = ActivitySource.StartActivity(name, ActivityKind.Internal, parent, startTime: started);
        activity?.SetTag("webhook.message_id", messageId);
        activity?.SetEndTime(ended.UtcDateTime);
    }

    public static void ReportDueBacklog(long count) => Volatile.Write(ref _dueBacklog, count);
}
