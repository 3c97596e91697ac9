using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Worker.Dispatch;

/// <summary>
/// Claims due deliveries in batches, sends each batch concurrently, records the attempts, and repeats while
/// there is work or a wake-up arrived meanwhile. Any number of workers may run it: the claim skips rows
/// other workers hold, and a lease outlives the endpoint's timeout plus the time to record.
/// </summary>
public sealed partial class Dispatcher(
    DeliveryStore store,
    WebhookSender sender,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    WorkerIdentity identity,
    ILogger<Dispatcher> logger)
{
    public static readonly Meter Meter = new("Webhooks.Worker");
    private static readonly Counter<long> Attempts = Meter.CreateCounter<long>("webhooks.delivery.attempts", description: "Delivery attempts by outcome");
    private static readonly Histogram<double> AttemptDuration = Meter.CreateHistogram<double>("webhooks.delivery.attempt.duration", "ms", "Duration of delivery attempts");

    private readonly Random _random = Random.Shared;
    private int _wakeRequested;
    private int _running;

    /// <summary>Whether a dispatch pass is running now (a wake-up then only flags more work).</summary>
    public bool IsRunning => Volatile.Read(ref _running) == 1;

    /// <summary>Notes that new work arrived; the running pass, if any, will claim again before it stops.</summary>
    public void RequestWake() => Volatile.Write(ref _wakeRequested, 1);

    public async Task RunAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            RequestWake();
            return;
        }
        try
        {
            var settings = options.Value;
            while (!ct.IsCancellationRequested)
            {
                Volatile.Write(ref _wakeRequested, 0);
                var claimed = await store.ClaimAsync(identity.Id, settings.MaxConcurrency, settings.LeaseMarginSeconds, time.GetUtcNow(), ct);
                if (claimed.Count == 0)
                {
                    if (Interlocked.Exchange(ref _wakeRequested, 0) == 1)
                    {
                        continue;
                    }
                    break;
                }
                await DeliverAsync(claimed, settings.RetrySchedule, ct);
            }
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task DeliverAsync(List<ClaimedDelivery> claimed, RetrySchedule schedule, CancellationToken ct)
    {
        var results = new AttemptResult[claimed.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, claimed.Count), new ParallelOptions { MaxDegreeOfParallelism = claimed.Count, CancellationToken = ct },
            async (i, token) =>
            {
                var delivery = claimed[i];
                var sent = await sender.SendAsync(delivery, AttemptTrigger.Scheduled, token);
                var decision = DeliveryRules.Decide(delivery.AttemptCount + 1, sent.Outcome, sent.RetryAfter, schedule, time.GetUtcNow(), _random);
                results[i] = new AttemptResult(delivery, sent.Attempt, decision);
                Attempts.Add(1, new KeyValuePair<string, object?>("outcome", SnakeCase.Of(sent.Outcome)));
                AttemptDuration.Record(sent.Attempt.DurationMs);
            });
        try
        {
            await store.RecordAsync(identity.Id, results, time.GetUtcNow(), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The leases expire and the deliveries are sent again: at-least-once, never lost.
            LogRecordFailed(ex, results.Length);
            return;
        }
        foreach (var result in results)
        {
            if (!result.Attempt.Succeeded)
            {
                LogAttemptFailed(result.Delivery.MessageId, result.Delivery.EndpointId, result.Attempt.ErrorMessage, SnakeCase.Of(result.Decision.Status));
            }
        }
        LogBatch(results.Length, results.Count(r => r.Attempt.Succeeded));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivered a batch of {Count}: {Succeeded} succeeded")]
    private partial void LogBatch(int count, int succeeded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery of {MessageId} to {EndpointId} failed: {Error}; now {Status}")]
    private partial void LogAttemptFailed(string messageId, string endpointId, string? error, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording {Count} attempts failed; their leases will expire and they will be sent again")]
    private partial void LogRecordFailed(Exception exception, int count);
}

/// <summary>This worker process's lease owner name.</summary>
public sealed class WorkerIdentity
{
    public string Id { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
}
