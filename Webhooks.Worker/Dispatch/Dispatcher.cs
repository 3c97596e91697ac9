using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Core.Hosting;

namespace Webhooks.Worker.Dispatch;

/// <summary>
/// The delivery pipeline of one worker. A claim loop keeps up to <see cref="DeliveryOptions.MaxConcurrency"/>
/// requests in flight, claiming due deliveries into free slots (never more than
/// <see cref="DeliveryOptions.MaxInFlightPerEndpoint"/> per endpoint unless the endpoint sets its own <c>maxInFlight</c>,
/// none for a rate-limited one); each send runs
/// on its own, and a recorder writes finished attempts in batches. A slow endpoint therefore only ever holds its
/// own few slots, and healthy endpoints' deliveries keep flowing past it. Any number of workers may run this:
/// claims skip rows others hold, and a lease outlives the endpoint's timeout plus the time to record.
/// </summary>
public sealed partial class Dispatcher(
    DeliveryStore store,
    WebhookSender sender,
    EndpointRateLimiter rateLimiter,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    WorkerIdentity identity,
    DependencyOutages outages,
    ILogger<Dispatcher> logger)
{
    private readonly ConcurrentDictionary<string, int> _inFlightByEndpoint = new();
    private readonly ConcurrentDictionary<string, int> _inFlightByApplication = new();
    // The in-flight cap of each endpoint in flight, as its last claim read it (the endpoint's maxInFlight, else the default).
    private readonly ConcurrentDictionary<string, int> _capByEndpoint = new();
    private readonly DependencyOutage _unbuildable = new("Building requests", "Deliveries are handed back unsent (their schedules untouched) until they can be signed",
        logger, time);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _throttledUntil = new();
    // Failed attempts (that count for health) not yet recorded, per endpoint. Until they are, the endpoint's circuit in the
    // database cannot have heard of them: its further deliveries wait for the record (milliseconds, usually), so a burst to
    // a dead endpoint cannot outrun the circuit breaker by however many requests fit into one record's latency.
    private readonly ConcurrentDictionary<string, int> _unrecordedFailures = new();
    private readonly SemaphoreSlim _signal = new(0);
    private DateTimeOffset _probedAt = DateTimeOffset.MinValue;
    private int _inFlight;
    private int _finishedSinceClaim;
    private int _wakeRequested;
    private int _running;

    /// <summary>New work was published: claim at once (the running pass wakes; an idle worker is triggered by the caller).</summary>
    public void RequestWake()
    {
        Volatile.Write(ref _wakeRequested, 1);
        _signal.Release();
    }

    public bool IsRunning => Volatile.Read(ref _running) == 1;

    /// <summary>Runs the pipeline until there is nothing due and nothing in flight, or until stopped.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            try
            {
                await PumpAsync(ct);
            }
            finally
            {
                Volatile.Write(ref _running, 0);
            }
            // A wake-up that raced with the end of the pass: go round again rather than wait for the next poll.
            if (ct.IsCancellationRequested || Volatile.Read(ref _wakeRequested) == 0)
            {
                return;
            }
        }
        RequestWake();
    }

    private async Task PumpAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var health = settings.HealthPolicy;
        var results = Channel.CreateUnbounded<AttemptResult>(new UnboundedChannelOptions { SingleReader = true });
        var recorder = RecordAsync(results.Reader, health, ct);
        // Claim in batches, not one row per finished request: wait for this many free slots (or, when every
        // claimable endpoint is at its cap, for half a cap's worth of its requests to finish).
        var minimumClaim = Math.Max(1, settings.MaxConcurrency / 8);
        var cappedClaim = Math.Max(1, settings.MaxInFlightPerEndpoint / 2);
        int CapOf(string endpointId) => _capByEndpoint.TryGetValue(endpointId, out var cap) ? cap : settings.MaxInFlightPerEndpoint;
        var claimNow = true;
        var lastClaimAt = time.GetUtcNow();
        var poll = TimeSpan.FromSeconds(settings.PollIntervalSeconds);
        var starved = false; // the last claim found less due than it could take
        var capped = false;  // an endpoint is at its cap: claims leave it out, though more of its work may be due
        LogPumpStarted(Volatile.Read(ref _inFlight));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (Interlocked.Exchange(ref _wakeRequested, 0) == 1)
                {
                    claimNow = true;
                }
                var inFlight = Volatile.Read(ref _inFlight);
                var free = settings.MaxConcurrency - inFlight;
                if (!claimNow && !starved && free > 0)
                {
                    claimNow = inFlight == 0 || (capped ? Volatile.Read(ref _finishedSinceClaim) >= cappedClaim : free >= minimumClaim);
                }
                if (!claimNow && free > 0 && time.GetUtcNow() - lastClaimAt >= poll)
                {
                    // Retries fall due without a signal: claim at least once a poll interval, however busy the
                    // finished-request signals keep the wait below.
                    claimNow = true;
                }
                if (claimNow && free > 0)
                {
                    claimNow = false;
                    lastClaimAt = time.GetUtcNow();
                    Volatile.Write(ref _finishedSinceClaim, 0);
                    var snapshot = new Dictionary<string, int>(_inFlightByEndpoint);
                    var apps = new Dictionary<string, int>(_inFlightByApplication);
                    List<ClaimedDelivery> claimed;
                    try
                    {
                        claimed = await ClaimAsync(free, snapshot, apps, settings, ct);
                        outages.Postgres.Recovered();
                    }
                    catch (Exception ex) when (DependencyOutage.IsOutage(ex) && !ct.IsCancellationRequested)
                    {
                        // Postgres is away: one line says so; claims back off until it answers again.
                        claimNow = true;
                        await Task.Delay(outages.Postgres.Failed(ex), ct);
                        continue;
                    }
                    // An endpoint or application at its cap (left out of the claim) or filled up to it by the claim may
                    // have more work due: that is not starvation, and its next finished requests make room to claim again.
                    var perApplication = settings.PerApplicationCap;
                    await StartAsync(claimed, settings, results.Writer);
                    var claimedByEndpoint = claimed.CountBy(d => d.EndpointId).ToDictionary();
                    var atCap = snapshot.Keys.Union(claimedByEndpoint.Keys)
                        .Where(id => snapshot.GetValueOrDefault(id) + claimedByEndpoint.GetValueOrDefault(id) >= CapOf(id)).ToList();
                    capped = atCap.Count > 0 ||
                             apps.Values.Any(n => n >= perApplication) ||
                             claimed.CountBy(d => d.ApplicationId).Any(c => apps.GetValueOrDefault(c.Key) + c.Value >= perApplication);
                    // Claim again once half the smallest full cap's requests finished (a cap of 2 frees its slot at once).
                    cappedClaim = Math.Max(1, atCap.Count == 0 ? settings.MaxInFlightPerEndpoint / 2 : atCap.Min(CapOf) / 2);
                    // A rate-limited endpoint is left out of claims until its bucket refills: not starvation either;
                    // the wait below ends when the earliest limit lifts.
                    capped |= !_throttledUntil.IsEmpty || !_unrecordedFailures.IsEmpty;
                    starved = claimed.Count < free && !capped;
                    LogClaimed(claimed.Count, free, Volatile.Read(ref _inFlight));
                    continue;
                }
                if (starved && Volatile.Read(ref _inFlight) == 0 && Volatile.Read(ref _wakeRequested) == 0)
                {
                    LogPumpIdle();
                    return;
                }
                // Wait for a finished request, a wake-up, a rate limit to lift, or the poll interval (retries falling due).
                if (!await _signal.WaitAsync(NextTimeout(settings), ct))
                {
                    starved = false;
                    claimNow = true;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            while (Volatile.Read(ref _inFlight) > 0)
            {
                await _signal.WaitAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None);
            }
            results.Writer.Complete();
            await recorder;
        }
    }

    private TimeSpan NextTimeout(DeliveryOptions settings)
    {
        var timeout = TimeSpan.FromSeconds(settings.PollIntervalSeconds);
        if (!_throttledUntil.IsEmpty)
        {
            var untilThrottleLifts = _throttledUntil.Values.Min() - time.GetUtcNow();
            timeout = untilThrottleLifts < timeout ? untilThrottleLifts : timeout;
        }
        return timeout < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : timeout;
    }

    private async Task<List<ClaimedDelivery>> ClaimAsync(
        int free, IReadOnlyDictionary<string, int> inFlightByEndpoint, IReadOnlyDictionary<string, int> inFlightByApplication, DeliveryOptions settings, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (now - _probedAt >= TimeSpan.FromSeconds(settings.PollIntervalSeconds))
        {
            // Open circuits whose cool-down has passed let one probe through (due now, so this claim may take it). Like a
            // retry falling due, this needs no signal: once a poll interval is enough.
            await store.ProbeCircuitsAsync(ct);
            _probedAt = now;
        }
        foreach (var (endpoint, until) in _throttledUntil)
        {
            if (until <= now)
            {
                _throttledUntil.TryRemove(endpoint, out _);
            }
        }
        var limits = new DeliveryStore.ClaimLimits(free, settings.MaxConcurrency, settings.MaxInFlightPerEndpoint, settings.PerApplicationCap,
            inFlightByEndpoint, inFlightByApplication, _throttledUntil.Keys.Union(_unrecordedFailures.Keys).ToArray(),
            new Dictionary<string, int>(_capByEndpoint));
        var started = time.GetUtcNow();
        var claimed = await store.ClaimAsync(identity.Id, limits, settings.LeaseMarginSeconds, ct);
        var ended = time.GetUtcNow();
        foreach (var delivery in claimed)
        {
            delivery.Claim = (started, ended);
        }
        return claimed;
    }

    private async Task StartAsync(List<ClaimedDelivery> claimed, DeliveryOptions settings, ChannelWriter<AttemptResult> results)
    {
        List<(long, TimeSpan)>? releases = null;
        foreach (var delivery in claimed)
        {
            if (delivery.RateLimitPerSecond is { } rate)
            {
                var wait = await rateLimiter.TryAcquireAsync(delivery.EndpointId, rate);
                if (wait > TimeSpan.Zero)
                {
                    // The worker's clock only says when this worker tries the endpoint again; the delivery's own due
                    // time is set on the database's clock.
                    _throttledUntil[delivery.EndpointId] = time.GetUtcNow() + wait;
                    (releases ??= []).Add((delivery.Id, wait));
                    continue;
                }
            }
            Interlocked.Increment(ref _inFlight);
            _capByEndpoint[delivery.EndpointId] = delivery.MaxInFlight ?? settings.MaxInFlightPerEndpoint;
            _inFlightByEndpoint.AddOrUpdate(delivery.EndpointId, 1, (_, n) => n + 1);
            _inFlightByApplication.AddOrUpdate(delivery.ApplicationId, 1, (_, n) => n + 1);
            _ = Task.Run(() => SendAsync(delivery, settings, results));
        }
        if (releases is not null)
        {
            // Rate-limited: handed back unattempted, due when a token is free; the slot goes to another endpoint.
            try
            {
                await store.ReleaseAsync(identity.Id, releases, CancellationToken.None);
            }
            catch (Exception ex) when (DependencyOutage.IsOutage(ex))
            {
                // Unsent and still leased: when the lease expires the sweep records it as an attempt, so the schedule
                // still bounds what is sent.
                outages.Postgres.Failed(ex);
            }
        }
    }

    private async Task SendAsync(ClaimedDelivery delivery, DeliveryOptions settings, ChannelWriter<AttemptResult> results)
    {
        try
        {
            WebhookSender.SendResult sent;
            try
            {
                sent = await sender.SendAsync(delivery, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // The sender records whatever happens on the wire; this is the last resort for a bug of ours around it.
                // Recorded like any failed attempt, so the retry rules (and the schedule's bound) apply.
                LogSendCrashed(ex, delivery.MessageId, delivery.EndpointId);
                sent = WebhookSender.Failure(delivery, time.GetUtcNow(), AttemptOutcome.Retryable, DeliveryLifecycle.InternalErrorKind,
                    $"The attempt failed inside the worker: {ex.GetType().Name}.");
            }
            if (!sent.Sent)
            {
                // Nothing went out: hand it back for later rather than spend its schedule on our own fault; one line
                // says why (a missing or wrong Webhooks:KeyRingKey is the usual cause), one when requests build again.
                var wait = _unbuildable.Failed(sent.NotSentBecause!);
                await HandBackAsync(delivery, wait < TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : wait);
                return;
            }
            _unbuildable.Recovered();
            var schedule = RetrySchedule.Of(delivery.RetrySchedule, settings.RetrySchedule);
            var decision = DeliveryLifecycle.Decide(delivery.AttemptCount + 1, sent.Outcome, sent.RetryAfter, schedule, Random.Shared, delivery.Trigger);
            WorkerTelemetry.AttemptFinished(sent.Outcome, sent.Attempt.DurationMs);
            var result = new AttemptResult(sent.Attempt, identity.Id, delivery.AttemptCount, decision, delivery.Probe, delivery.Ordered, delivery.MessageCreatedAt,
                delivery.TraceParent);
            if (!result.Attempt.Succeeded && result.AffectsEndpointHealth)
            {
                _unrecordedFailures.AddOrUpdate(delivery.EndpointId, 1, (_, n) => n + 1);
            }
            results.TryWrite(result);
        }
        finally
        {
            Release(_inFlightByEndpoint, delivery.EndpointId);
            if (!_inFlightByEndpoint.ContainsKey(delivery.EndpointId))
            {
                // A hint only (the claim reads the endpoint's current cap): an entry lost to a race means the default for a moment.
                _capByEndpoint.TryRemove(delivery.EndpointId, out _);
            }
            Release(_inFlightByApplication, delivery.ApplicationId);
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _finishedSinceClaim);
            _signal.Release();
        }
    }

    private async Task HandBackAsync(ClaimedDelivery delivery, TimeSpan after)
    {
        try
        {
            await store.ReleaseAsync(identity.Id, [(delivery.Id, after)], CancellationToken.None);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex))
        {
            outages.Postgres.Failed(ex);
        }
    }

    private static void Release(ConcurrentDictionary<string, int> inFlight, string key)
    {
        inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
        if (inFlight.TryGetValue(key, out var left) && left <= 0)
        {
            inFlight.TryRemove(new KeyValuePair<string, int>(key, left));
        }
    }

    /// <summary>
    /// Writes finished attempts in batches. While Postgres is away the batch is kept and tried again with backoff, so an
    /// outage loses no attempt's record; a batch that fails for another reason is written row by row, so one bad row
    /// cannot take its neighbours' records with it. Once the worker is stopping it tries for a few seconds more: what is
    /// still unrecorded then is recorded by the lease sweep when its lease expires.
    /// </summary>
    private async Task RecordAsync(ChannelReader<AttemptResult> results, DeliveryStore.HealthPolicy health, CancellationToken stopping)
    {
        var batch = new List<AttemptResult>(256);
        while (await results.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < 500 && results.TryRead(out var result))
            {
                batch.Add(result);
            }
            var recordStarted = time.GetUtcNow();
            var recorded = await RecordWithRetryAsync(batch, health, stopping);
            if (!recorded && batch.Count > 1)
            {
                foreach (var one in batch)
                {
                    await RecordWithRetryAsync([one], health, stopping);
                }
            }
            var heldBack = false;
            var recordedAt = time.GetUtcNow();
            foreach (var result in batch)
            {
                if (recorded && result.Decision.Status == DeliveryStatus.Succeeded && result.PublishedAt is { } publishedAt)
                {
                    WorkerTelemetry.Delivered(recordedAt - publishedAt);
                }
                if (recorded)
                {
                    WorkerTelemetry.Span("webhook record", result.TraceParent, recordStarted, recordedAt, result.Attempt.MessageId);
                }
                if (!result.Attempt.Succeeded)
                {
                    LogAttemptFailed(result.Attempt.MessageId, result.Attempt.EndpointId, result.Attempt.ErrorMessage, SnakeCase.Of(result.Decision.Status));
                    if (result.AffectsEndpointHealth)
                    {
                        Release(_unrecordedFailures, result.Attempt.EndpointId);
                        heldBack = true;
                    }
                }
            }
            if (batch.Exists(r => r.Ordered && r.Decision.Status is DeliveryStatus.Succeeded or DeliveryStatus.Exhausted or DeliveryStatus.Cancelled))
            {
                // The record promoted the next delivery of a fifo key: due now, so claim now rather than at the next poll.
                RequestWake();
            }
            else if (heldBack)
            {
                // Endpoints left out of claims until these records were written may be claimed again.
                _signal.Release();
            }
        }
    }

    private async Task<bool> RecordWithRetryAsync(List<AttemptResult> batch, DeliveryStore.HealthPolicy health, CancellationToken stopping)
    {
        DateTimeOffset? giveUpAt = null;
        var timeouts = 0;
        while (true)
        {
            try
            {
                await store.RecordAsync(batch, health, CancellationToken.None, options.Value.FlushRecords);
                outages.Postgres.Recovered();
                return true;
            }
            catch (Exception ex) when (DependencyOutage.IsOutage(ex))
            {
                // A statement that keeps timing out is more likely this batch's doing than an outage: after a few
                // tries it is split (row by row), so it cannot hold every later record hostage.
                if (ex is TimeoutException || ex.InnerException is TimeoutException)
                {
                    if (++timeouts >= 3)
                    {
                        LogRecordFailed(ex, batch.Count);
                        return false;
                    }
                }
                var wait = outages.Postgres.Failed(ex);
                if (stopping.IsCancellationRequested)
                {
                    giveUpAt ??= time.GetUtcNow().AddSeconds(5);
                    if (time.GetUtcNow() >= giveUpAt)
                    {
                        LogRecordAbandoned(batch.Count);
                        return true;
                    }
                }
                await Task.Delay(wait, CancellationToken.None);
            }
            catch (Exception ex)
            {
                LogRecordFailed(ex, batch.Count);
                return false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dispatch pass started ({InFlight} in flight)")]
    private partial void LogPumpStarted(int inFlight);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dispatch pass idle: nothing due, nothing in flight")]
    private partial void LogPumpIdle();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Claimed {Claimed} of {Free} free slots ({InFlight} in flight)")]
    private partial void LogClaimed(int claimed, int free, int inFlight);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery of {MessageId} to {EndpointId} failed: {Error}; now {Status}")]
    private partial void LogAttemptFailed(string messageId, string endpointId, string? error, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording {Count} attempts failed; a batch is retried row by row, a single row is left to the lease sweep")]
    private partial void LogRecordFailed(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping with {Count} attempts unrecorded while Postgres is away; the lease sweep will record them")]
    private partial void LogRecordAbandoned(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending {MessageId} to {EndpointId} failed inside the worker; recorded as a failed attempt")]
    private partial void LogSendCrashed(Exception exception, string messageId, string endpointId);
}

/// <summary>This worker process's lease owner name.</summary>
public sealed class WorkerIdentity
{
    public string Id { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
}
