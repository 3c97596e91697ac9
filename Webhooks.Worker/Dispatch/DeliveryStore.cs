using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Worker.Dispatch;

/// <summary>A delivery this worker holds the lease of, with what it needs to send it.</summary>
public sealed record ClaimedDelivery(
    long Id,
    int AttemptCount,
    string MessageId,
    string EventType,
    string Payload,
    DateTimeOffset MessageCreatedAt,
    string? TraceParent,
    string EndpointId,
    string ApplicationId,
    string Url,
    string Secret,
    string? PreviousSecret,
    DateTimeOffset? PreviousSecretExpiresAt,
    Dictionary<string, string> Headers,
    int TimeoutSeconds,
    int? RateLimitPerSecond,
    int[]? RetrySchedule,
    AttemptTrigger Trigger = AttemptTrigger.Scheduled,
    string? Auth = null,
    bool Probe = false,
    int? MaxInFlight = null,
    string? Transformation = null,
    string Format = ChatFormats.Standard,
    bool Ordered = false,
    bool Raw = false)
{
    /// <summary>When the claim that leased this delivery started and ended (its span in the message's trace).</summary>
    public (DateTimeOffset Started, DateTimeOffset Ended) Claim { get; set; }
}

/// <summary>
/// What one attempt produced, who held its lease, and the state the delivery moves to; <paramref name="Probe"/>: the delivery
/// was its endpoint's circuit probe when claimed; <paramref name="Ordered"/>: it has a place in a fifo key's sequence.
/// </summary>
public sealed record AttemptResult(DeliveryAttempt Attempt, string LeaseOwner, int ClaimedAttemptCount, DeliveryDecision Decision, bool Probe = false,
    bool Ordered = false, DateTimeOffset? PublishedAt = null, string? TraceParent = null)
{
    public bool AffectsEndpointHealth => DeliveryLifecycle.AffectsEndpointHealth(Attempt.Trigger, Attempt.ErrorKind);
}

/// <summary>
/// The delivery engine's hot-path SQL: one round trip to claim a batch (with its messages and endpoints),
/// one transaction to record a batch of attempts. The transitions themselves are <see cref="DeliveryLifecycle"/>'s;
/// EF Core serves everything else.
/// </summary>
public sealed class DeliveryStore(NpgsqlDataSource dataSource)
{
    // Candidates in claim order (due time brought forward by priority, the partial expression index), leaving out the endpoints and applications this worker has at their
    // cap; then at most the endpoint's max_in_flight (else @per_endpoint) per endpoint and the application's fair share per application, minus what this
    // worker already has in flight there. The fair share is this worker's slots divided among the applications that
    // have work due or in flight, and never more than @app_cap, so one tenant's hanging endpoints cannot take every
    // slot and another tenant's deliveries always find room. Applications take turns (app_rank first).
    // Disabled endpoints' deliveries are parked (next_attempt_at NULL) and never reach the index range; the join
    // re-checks for ones disabled a moment ago. A deleted endpoint is also disabled, so 'NOT e.disabled' is the only
    // test on endpoints: a second condition made the planner (with the stale statistics of a burst just inserted)
    // start from endpoints and re-run the ranking for every due row of a busy endpoint, 0.2–0.5 s per claim.
    // The share and both rankings are MATERIALIZED (computed once): with the statistics of a table just filled (1 due row
    // estimated, 1,000 there) the planner put them inside a nested loop over the due rows and re-ran the share's aggregate
    // 512,000 times, one claim taking 29 s (auto_explain, the bench's first run on a new database). For the same reason
    // `chosen` and the claim's update also take the ids as an array (d.id = ANY(ARRAY(…))): planned from the due index
    // (16,000 rows there, 1 estimated, after a burst), each due row was otherwise compared with every row of the CTE,
    // 1.2 million comparisons and 0.8 s a claim; with the array they are filtered before the join. Measured both ways:
    // a 1-worker run right after a 60-s soak, 266/s without the array, 1,509/s with it; the claim alone (statistics
    // fresh) 7 ms without, 18 ms with, for 128 of 10,000 due. Kept for the bounded worst case; a plan-stable claim that
    // costs nothing in the ordinary case is still to find.
    private static readonly string ClaimSql = $"""
        WITH candidates AS (
            SELECT d.id, d.endpoint_id, d.application_id, {DeliveryLifecycle.ClaimOrder("d")} AS claim_order
            FROM deliveries d
            WHERE {DeliveryLifecycle.Due("d")} AND d.endpoint_id <> ALL(@full_ids) AND d.application_id <> ALL(@full_apps)
            ORDER BY {DeliveryLifecycle.ClaimOrder("d")}
            LIMIT @scan
        ), share AS MATERIALIZED (
            SELECT least(@app_cap, ceil(@max_concurrency::numeric / greatest(1, count(*))))::int AS cap
            FROM (SELECT application_id FROM candidates UNION SELECT unnest(@app_flight_ids)) apps
        ), ranked AS MATERIALIZED (
            -- Ids partitioned byte-wise (COLLATE "C"): the database's linguistic collation made these sorts most of the claim's time.
            SELECT c.id, c.application_id, c.claim_order,
                   row_number() OVER (PARTITION BY c.endpoint_id COLLATE "C" ORDER BY c.claim_order, c.id) AS rank,
                   coalesce(e.max_in_flight, @per_endpoint) - coalesce(b.in_flight, 0) AS room
            FROM candidates c
            JOIN endpoints e ON e.id = c.endpoint_id
            LEFT JOIN unnest(@flight_ids, @flight_counts) AS b(endpoint_id, in_flight) ON b.endpoint_id = c.endpoint_id
        ), app_ranked AS MATERIALIZED (
            -- Ranked per application among what its endpoints have room for, so the share is not spent on rows left out.
            SELECT r.id, r.claim_order,
                   row_number() OVER (PARTITION BY r.application_id COLLATE "C" ORDER BY r.claim_order, r.id) AS app_rank,
                   share.cap - coalesce(ab.in_flight, 0) AS app_room
            FROM ranked r
            CROSS JOIN share
            LEFT JOIN unnest(@app_flight_ids, @app_flight_counts) AS ab(application_id, in_flight) ON ab.application_id = r.application_id
            WHERE r.rank <= r.room
        ), picked AS MATERIALIZED (
            SELECT array_agg(id ORDER BY app_rank, claim_order, id) AS ids FROM app_ranked WHERE app_rank <= app_room
        ), chosen AS (
            -- The picked ids, found by primary key and checked again under the lock, in the order picked: no join with the
            -- ranking (which the planner, misjudging its size after a burst, ran as a loop over every pair).
            SELECT d.id, e.timeout_seconds
            FROM deliveries d
            JOIN endpoints e ON e.id = d.endpoint_id AND NOT e.disabled
            WHERE d.id = ANY((SELECT ids FROM picked)::bigint[]) AND {DeliveryLifecycle.StillDue("d")}
            ORDER BY array_position((SELECT ids FROM picked)::bigint[], d.id)
            LIMIT @limit
            FOR UPDATE OF d SKIP LOCKED
        ), claimed AS (
            {DeliveryLifecycle.Claim("chosen")}
            RETURNING d.id, d.attempt_count, d.message_id, d.endpoint_id, d.application_id, d.trigger, d.ordering_seq IS NOT NULL AS ordered
        )
        SELECT c.id, c.attempt_count, m.id, m.event_type, m.payload, m.created_at, m.trace_parent,
               e.id, c.application_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at, e.headers::text, e.timeout_seconds,
               e.rate_limit_per_second, coalesce(e.retry_schedule, a.retry_schedule), c.trigger, e.auth, e.circuit_probe_id IS NOT DISTINCT FROM c.id,
               e.max_in_flight, e.transformation, e.format,
               c.ordered, m.raw
        FROM claimed c
        JOIN messages m ON m.id = c.message_id
        JOIN endpoints e ON e.id = c.endpoint_id
        JOIN applications a ON a.id = e.application_id
        """;

    // A delivery removed meanwhile (its endpoint or application was deleted and purged) has no log to keep. The ids
    // are looked up by primary key first, so the check never turns into a scan of the deliveries table.
    private const string InsertAttemptsSql = """
        WITH present AS (SELECT id FROM deliveries WHERE id = ANY(@delivery_id))
        INSERT INTO delivery_attempts (id, delivery_id, message_id, endpoint_id, url, trigger, started_at, duration_ms,
                                       request_headers, response_status, response_headers, response_body, error_kind, error_message, succeeded,
                                       trace_id, token_refreshed)
        SELECT u.* FROM unnest(@id, @delivery_id, @message_id, @endpoint_id, @url, @trigger, @started_at, @duration_ms,
                             @request_headers::jsonb[], @response_status, @response_headers::jsonb[], @response_body, @error_kind, @error_message, @succeeded,
                             @trace_id, @token_refreshed)
            AS u(id, delivery_id, message_id, endpoint_id, url, trigger, started_at, duration_ms, request_headers, response_status,
                 response_headers, response_body, error_kind, error_message, succeeded, trace_id, token_refreshed)
        WHERE u.delivery_id IN (SELECT id FROM present)
        """;

    // Health: a success resets the failure streak; a streak of at least @disable_after_failures failures that
    // began at least @disable_after_seconds ago, or a 410 Gone, disables the endpoint with a reason.
    // The circuit breaker, on the same row: a streak reaching the threshold opens a closed circuit (not one being disabled
    // now: that holds everything anyway); the probe's success closes it, the probe's failure re-opens it for twice the
    // cool-down (up to the cap). Other attempts while it is open (requests already in flight when it opened) count for the
    // streak only, so they can neither push the probe back nor close the circuit behind the worker's back (it knows what
    // it sent as a probe, and skips the circuit's statements below for a batch that has no failure and no probe). Each
    // opening and closing is written to the endpoint's history, from which the operational webhooks are sent below.
    private const string UpdateEndpointsSql = """
        WITH counted AS (
            SELECT e.id, e.application_id, e.disabled, e.consecutive_failures, e.first_failure_at,
                   e.circuit_opened_at, e.circuit_reopens, e.circuit_probe_id, coalesce(e.circuit_breaker_threshold, @circuit_threshold) AS threshold,
                   u.succeeded, u.reset, u.failures, u.gone,
                   CASE WHEN u.reset THEN u.failures ELSE e.consecutive_failures + u.failures END AS streak,
                   NOT u.succeeded
                       AND CASE WHEN u.reset THEN u.failures ELSE e.consecutive_failures + u.failures END >= @disable_after_failures
                       AND CASE WHEN u.reset THEN now() ELSE coalesce(e.first_failure_at, now()) END
                           <= now() - make_interval(secs => @disable_after_seconds) AS too_long
            FROM unnest(@id, @succeeded, @reset, @failures, @gone) AS u(id, succeeded, reset, failures, gone)
            JOIN endpoints e ON e.id = u.id
        ), outcome AS (
            SELECT c.*,
                   c.circuit_opened_at IS NULL AND NOT (c.disabled OR c.gone OR c.too_long) AND c.streak >= c.threshold AS opens,
                   c.circuit_opened_at IS NOT NULL AND c.circuit_probe_id = ANY(@probes_succeeded) AS closes,
                   c.circuit_opened_at IS NOT NULL AND c.circuit_probe_id = ANY(@probes_failed) AS reopens,
                   make_interval(secs => least(@cooldown_max,
                       @cooldown * power(2, CASE WHEN c.circuit_opened_at IS NULL THEN 0 ELSE least(c.circuit_reopens + 1, 30) END))) AS cooldown
            FROM counted c
        ), updated AS (
            UPDATE endpoints e
            SET consecutive_failures = o.streak,
                first_failure_at = CASE WHEN o.succeeded THEN NULL WHEN o.reset THEN now() ELSE coalesce(e.first_failure_at, now()) END,
                last_success_at = CASE WHEN o.reset THEN now() ELSE e.last_success_at END,
                disabled = e.disabled OR o.gone OR o.too_long,
                disabled_reason = CASE
                    WHEN e.disabled THEN e.disabled_reason
                    WHEN o.gone THEN 'The endpoint answered 410 Gone.'
                    WHEN o.too_long THEN format('Failing without a success since %s (%s attempts in a row).',
                        to_char(coalesce(e.first_failure_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), o.streak)
                    ELSE e.disabled_reason END,
                disabled_at = CASE WHEN NOT e.disabled AND (o.gone OR o.too_long) THEN now() ELSE e.disabled_at END,
                circuit_opened_at = CASE WHEN o.opens THEN now() WHEN o.closes THEN NULL ELSE e.circuit_opened_at END,
                circuit_retry_at = CASE WHEN o.opens OR o.reopens THEN now() + o.cooldown WHEN o.closes THEN NULL ELSE e.circuit_retry_at END,
                circuit_reopens = CASE WHEN o.reopens THEN e.circuit_reopens + 1 WHEN o.opens OR o.closes THEN 0 ELSE e.circuit_reopens END,
                circuit_probe_id = CASE WHEN o.opens OR o.closes OR o.reopens THEN NULL ELSE e.circuit_probe_id END,
                updated_at = now()
            FROM outcome o
            WHERE e.id = o.id
        )
        INSERT INTO endpoint_events (endpoint_id, application_id, kind, data, created_at)
        SELECT o.id, o.application_id,
               CASE WHEN o.opens THEN 'circuit_opened' ELSE 'circuit_closed' END,
               CASE WHEN o.opens THEN jsonb_build_object('consecutiveFailures', o.streak, 'threshold', o.threshold, 'retryAt', now() + o.cooldown)
                    ELSE jsonb_build_object('reason', 'succeeded', 'openedAt', o.circuit_opened_at) END,
               now()
        FROM outcome o
        WHERE o.opens OR o.closes
        ORDER BY o.id
        """;

    // Operational webhooks, in the same transaction as the outcomes that cause them (so none is lost or invented):
    // an endpoint this batch disabled (disabled_at = now(), the transaction's time), a delivery it exhausted, and a circuit
    // it opened or closed (the history entries it wrote) become messages of the operational application, fanned out by the
    // one subscription rule and the endpoints' payload filters. Events about the operational application itself are not
    // emitted (no loops).
    private static readonly string OperationalSql = $"""
        WITH op AS (
            SELECT id FROM applications WHERE uid = @op_uid AND deleted_at IS NULL
        ), events AS (
            SELECT 'endpoint.disabled' AS event_type, e.application_id AS source,
                   jsonb_build_object('applicationId', e.application_id, 'endpointId', e.id, 'url', e.url,
                                      'reason', e.disabled_reason, 'disabledAt', e.disabled_at) AS payload
            FROM endpoints e
            WHERE e.id = ANY(@endpoint_ids) AND e.disabled AND e.disabled_at = now()
            UNION ALL
            SELECT 'message.attempt.exhausted', d.application_id,
                   jsonb_build_object('applicationId', d.application_id, 'endpointId', d.endpoint_id, 'messageId', d.message_id,
                                      'attempts', d.attempt_count, 'lastStatusCode', d.last_status_code, 'exhaustedAt', d.updated_at)
            FROM deliveries d
            WHERE d.id = ANY(@delivery_ids) AND d.status = 'exhausted' AND d.updated_at = now()
            UNION ALL
            SELECT 'endpoint.' || ev.kind, ev.application_id,
                   jsonb_build_object('applicationId', ev.application_id, 'endpointId', ev.endpoint_id, 'url', e.url,
                                      CASE WHEN ev.kind = 'circuit_opened' THEN 'openedAt' ELSE 'closedAt' END, ev.created_at) || ev.data
            FROM endpoint_events ev
            JOIN endpoints e ON e.id = ev.endpoint_id
            WHERE ev.endpoint_id = ANY(@endpoint_ids) AND ev.created_at = now()
        ), numbered AS (
            SELECT ev.*, op.id AS op_app, row_number() OVER () AS n
            FROM events ev CROSS JOIN op
            WHERE ev.source <> op.id
        ), inserted AS (
            INSERT INTO messages (id, application_id, event_type, payload, channels, created_at)
            SELECT (@message_ids)[n], op_app, event_type, payload::text, ARRAY[]::text[], now() FROM numbered
            RETURNING id, application_id, event_type, channels, priority, ordering_key, payload::jsonb AS payload_json
        ),
        {DeliveryLifecycle.FanOut("(SELECT i.*, row_number() OVER (ORDER BY i.id) AS ord FROM inserted i)")}
        """;

    /// <summary>
    /// What a claim may take: how many, how many per endpoint (<paramref name="PerEndpoint"/>, unless the endpoint sets its
    /// own <c>max_in_flight</c>) and per application, and what this worker already holds. <paramref name="CapByEndpoint"/>:
    /// the endpoint's own cap as last claimed, for the endpoints in flight (so one at its cap is left out of the scan; the
    /// claim itself reads the endpoint's current cap).
    /// </summary>
    public sealed record ClaimLimits(
        int Limit, int MaxConcurrency, int PerEndpoint, int PerApplication,
        IReadOnlyDictionary<string, int> InFlightByEndpoint, IReadOnlyDictionary<string, int> InFlightByApplication, IReadOnlyCollection<string> Excluded,
        IReadOnlyDictionary<string, int>? CapByEndpoint = null)
    {
        /// <summary>The cap of an endpoint in flight: its own as last claimed, else <see cref="PerEndpoint"/>.</summary>
        public int CapOf(string endpointId) => CapByEndpoint is not null && CapByEndpoint.TryGetValue(endpointId, out var cap) ? cap : PerEndpoint;
    }

    /// <summary>
    /// Claims up to <see cref="ClaimLimits.Limit"/> due deliveries. Applications already holding the share they would
    /// have if one more tenant had work due are first left out of the candidate scan, so a tenant with an older backlog
    /// cannot fill the scan and hide a newcomer's work; if that leaves slots unused, a second claim lets them fill up
    /// to their cap.
    /// <para>
    /// Leaving a tenant out costs a scan over its whole due backlog (its rows are read and skipped): 40–50 ms per claim
    /// with 19,000 of one tenant's deliveries due, measured. Not avoided yet: skipping that scan for a while (tried) hides
    /// a slow or rate-limited newcomer behind the backlog; reading the due order tenant by tenant would bound it.
    /// </para>
    /// </summary>
    public async Task<List<ClaimedDelivery>> ClaimAsync(string owner, ClaimLimits limits, int leaseMarginSeconds, CancellationToken ct)
    {
        var apps = limits.InFlightByApplication.Where(kv => kv.Value > 0).ToDictionary();
        var speculativeShare = (int)Math.Ceiling(limits.MaxConcurrency / (double)(apps.Count + 1));
        var spared = apps.Where(kv => kv.Value >= Math.Min(speculativeShare, limits.PerApplication)).Select(kv => kv.Key).ToArray();
        var claimed = await ClaimOnceAsync(owner, limits, apps, spared, leaseMarginSeconds, ct);
        var fullAtCap = apps.Where(kv => kv.Value >= limits.PerApplication).Select(kv => kv.Key).ToArray();
        if (claimed.Count < limits.Limit && spared.Length > fullAtCap.Length)
        {
            foreach (var delivery in claimed)
            {
                apps[delivery.ApplicationId] = apps.GetValueOrDefault(delivery.ApplicationId) + 1;
            }
            var endpoints = new Dictionary<string, int>(limits.InFlightByEndpoint);
            var caps = limits.CapByEndpoint is null ? [] : new Dictionary<string, int>(limits.CapByEndpoint);
            foreach (var delivery in claimed)
            {
                endpoints[delivery.EndpointId] = endpoints.GetValueOrDefault(delivery.EndpointId) + 1;
                caps[delivery.EndpointId] = delivery.MaxInFlight ?? limits.PerEndpoint;
            }
            var rest = limits with { Limit = limits.Limit - claimed.Count, InFlightByEndpoint = endpoints, CapByEndpoint = caps };
            claimed.AddRange(await ClaimOnceAsync(owner, rest, apps, apps.Where(kv => kv.Value >= limits.PerApplication).Select(kv => kv.Key).ToArray(),
                leaseMarginSeconds, ct));
        }
        return claimed;
    }

    private async Task<List<ClaimedDelivery>> ClaimOnceAsync(
        string owner, ClaimLimits limits, Dictionary<string, int> apps, string[] fullApps, int leaseMarginSeconds, CancellationToken ct)
    {
        var busy = new Dictionary<string, int>(limits.InFlightByEndpoint.Where(kv => kv.Value > 0));
        var full = busy.Where(kv => kv.Value >= limits.CapOf(kv.Key)).Select(kv => kv.Key).Union(limits.Excluded).ToHashSet();
        var flight = busy.Where(kv => !full.Contains(kv.Key)).ToArray();
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.AddWithValue("limit", limits.Limit);
        command.Parameters.AddWithValue("scan", limits.Limit * 4);
        command.Parameters.AddWithValue("per_endpoint", limits.PerEndpoint);
        command.Parameters.AddWithValue("full_ids", full.ToArray());
        command.Parameters.AddWithValue("flight_ids", flight.Select(kv => kv.Key).ToArray());
        command.Parameters.AddWithValue("flight_counts", flight.Select(kv => kv.Value).ToArray());
        command.Parameters.AddWithValue("app_cap", limits.PerApplication);
        command.Parameters.AddWithValue("max_concurrency", limits.MaxConcurrency);
        command.Parameters.AddWithValue("full_apps", fullApps);
        command.Parameters.AddWithValue("app_flight_ids", apps.Keys.ToArray());
        command.Parameters.AddWithValue("app_flight_counts", apps.Values.ToArray());
        command.Parameters.AddWithValue("owner", owner);
        command.Parameters.AddWithValue("margin", (double)leaseMarginSeconds);
        var claimed = new List<ClaimedDelivery>(limits.Limit);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            claimed.Add(new ClaimedDelivery(
                Id: reader.GetInt64(0),
                AttemptCount: reader.GetInt32(1),
                MessageId: reader.GetString(2),
                EventType: reader.GetString(3),
                Payload: reader.GetString(4),
                MessageCreatedAt: reader.GetFieldValue<DateTimeOffset>(5),
                TraceParent: reader.IsDBNull(6) ? null : reader.GetString(6),
                EndpointId: reader.GetString(7),
                ApplicationId: reader.GetString(8),
                Url: reader.GetString(9),
                Secret: reader.GetString(10),
                PreviousSecret: reader.IsDBNull(11) ? null : reader.GetString(11),
                PreviousSecretExpiresAt: reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
                Headers: JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(13)) ?? [],
                TimeoutSeconds: reader.GetInt32(14),
                RateLimitPerSecond: reader.IsDBNull(15) ? null : reader.GetInt32(15),
                RetrySchedule: reader.IsDBNull(16) ? null : reader.GetFieldValue<int[]>(16),
                Trigger: SnakeCase.Parse<AttemptTrigger>(reader.GetString(17)),
                Auth: reader.IsDBNull(18) ? null : reader.GetString(18),
                Probe: reader.GetBoolean(19),
                MaxInFlight: reader.IsDBNull(20) ? null : reader.GetInt32(20),
                Transformation: reader.IsDBNull(21) ? null : reader.GetString(21),
                Format: reader.GetString(22),
                Ordered: reader.GetBoolean(23),
                Raw: reader.GetBoolean(24)));
        }
        return claimed;
    }

    /// <summary>When failing endpoints are disabled: after this many failures in a row, failing for at least this long.</summary>
    public readonly record struct HealthPolicy(int DisableAfterFailures, TimeSpan DisableAfter, string? OperationalApplicationUid = null, CircuitPolicy? Circuit = null);

    /// <summary>When a circuit opens (failures in a row, unless the endpoint sets its own), and how long it stays open before a probe.</summary>
    public readonly record struct CircuitPolicy(int Threshold, TimeSpan Cooldown, TimeSpan MaxCooldown)
    {
        public static CircuitPolicy Default { get; } = new(5, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
    }

    /// <summary>
    /// Stores the attempts, moves each delivery to its next state and updates endpoint health, atomically.
    /// <paramref name="waitForFlush"/> false commits without waiting for the WAL flush (<c>synchronous_commit = off</c>):
    /// visible at once, durable a fraction of a second later. A record lost in a Postgres crash meanwhile leaves its
    /// deliveries as their claim left them (the claim's commit waited for its flush before any request went out): leased,
    /// so the lease sweep records each as <c>lease_expired</c> and sends it again — a duplicate, never a lost delivery,
    /// exactly as when a worker dies before recording. Any later synchronous commit (a claim, a publish) flushes it too.
    /// </summary>
    public async Task RecordAsync(IReadOnlyList<AttemptResult> results, HealthPolicy health, CancellationToken ct, bool waitForFlush = true)
    {
        if (results.Count == 0)
        {
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await RecordAsync(connection, transaction, results, health, ct, waitForFlush);
        await transaction.CommitAsync(ct);
    }

    private static async Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<AttemptResult> results, HealthPolicy health, CancellationToken ct,
        bool waitForFlush = true)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
            if (!waitForFlush)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL synchronous_commit = off"));
            }
            // Rows in id order (endpoints, then deliveries), so concurrent batches take their locks in one order.
            results = results.OrderBy(r => r.Attempt.DeliveryId).ToArray();
            var lockEndpoints = new NpgsqlBatchCommand(DeliveryLifecycle.LockEndpoints);
            lockEndpoints.Parameters.AddWithValue("endpoint_ids", results.Select(r => r.Attempt.EndpointId).Distinct().Order(StringComparer.Ordinal).ToArray());
            batch.BatchCommands.Add(lockEndpoints);

            // Per endpoint, in the order the attempts started: the last decides healthy or not; a success in the batch ends
            // the streak, and only the failures after the last success continue it (failures with a success between them are
            // not "in a row", whatever batch they share). Health first, so the delivery update below parks the retries of an
            // endpoint this batch disables.
            var outcomes = results
                .Where(r => r.AffectsEndpointHealth)
                .GroupBy(r => r.Attempt.EndpointId)
                .Select(g =>
                {
                    var ordered = g.OrderBy(r => r.Attempt.StartedAt).ToList();
                    var lastSuccess = ordered.FindLastIndex(r => r.Attempt.Succeeded);
                    return (
                        Id: g.Key,
                        Succeeded: ordered[^1].Attempt.Succeeded,
                        Reset: lastSuccess >= 0,
                        Failures: ordered.Count - lastSuccess - 1,
                        Gone: g.Any(r => r.Decision.DisableEndpoint));
                })
                .OrderBy(h => h.Id, StringComparer.Ordinal)
                .ToArray();
            var outcomeIds = outcomes.Select(h => h.Id).ToArray();
            // Only a failure can open a circuit, only a probe close or re-open one; a batch of plain successes (the busy
            // path) needs none of the circuit's statements.
            var healthFailures = results.Any(r => r.AffectsEndpointHealth && !r.Attempt.Succeeded);
            var probes = results.Where(r => r.Probe && r.AffectsEndpointHealth).ToArray();
            if (outcomes.Length > 0)
            {
                var circuit = health.Circuit ?? CircuitPolicy.Default;
                var endpoints = new NpgsqlBatchCommand(UpdateEndpointsSql);
                endpoints.Parameters.AddWithValue("id", outcomeIds);
                endpoints.Parameters.AddWithValue("succeeded", outcomes.Select(h => h.Succeeded).ToArray());
                endpoints.Parameters.AddWithValue("reset", outcomes.Select(h => h.Reset).ToArray());
                endpoints.Parameters.AddWithValue("failures", outcomes.Select(h => h.Failures).ToArray());
                endpoints.Parameters.AddWithValue("gone", outcomes.Select(h => h.Gone).ToArray());
                endpoints.Parameters.AddWithValue("probes_succeeded", probes.Where(r => r.Attempt.Succeeded).Select(r => r.Attempt.DeliveryId).ToArray());
                endpoints.Parameters.AddWithValue("probes_failed", probes.Where(r => !r.Attempt.Succeeded).Select(r => r.Attempt.DeliveryId).ToArray());
                endpoints.Parameters.AddWithValue("disable_after_failures", health.DisableAfterFailures);
                endpoints.Parameters.AddWithValue("disable_after_seconds", health.DisableAfter.TotalSeconds);
                endpoints.Parameters.AddWithValue("circuit_threshold", circuit.Threshold);
                endpoints.Parameters.AddWithValue("cooldown", circuit.Cooldown.TotalSeconds);
                endpoints.Parameters.AddWithValue("cooldown_max", circuit.MaxCooldown.TotalSeconds);
                batch.BatchCommands.Add(endpoints);

                // Then the deliveries follow the endpoint: parked if it was disabled, held if its circuit opened, due again
                // (when each was due) if its circuit closed.
                string[] transitions = [DeliveryLifecycle.Park, .. healthFailures ? [DeliveryLifecycle.Hold] : Array.Empty<string>(),
                    .. probes.Any(r => r.Attempt.Succeeded) ? [DeliveryLifecycle.Resume] : Array.Empty<string>()];
                foreach (var transition in transitions)
                {
                    var command = new NpgsqlBatchCommand(transition);
                    command.Parameters.AddWithValue("endpoint_ids", outcomeIds);
                    batch.BatchCommands.Add(command);
                }
            }
            // A probe whose attempt says nothing about the endpoint (lost with its worker, a bug of ours) frees the way for the next.
            var settled = results.Where(r => r.Probe && !r.AffectsEndpointHealth).Select(r => r.Attempt.DeliveryId).ToArray();
            if (settled.Length > 0)
            {
                var command = new NpgsqlBatchCommand(DeliveryLifecycle.ProbeSettled);
                command.Parameters.AddWithValue("delivery_ids", settled);
                batch.BatchCommands.Add(command);
            }

            var update = new NpgsqlBatchCommand(DeliveryLifecycle.Record);
            update.Parameters.AddWithValue("id", results.Select(r => r.Attempt.DeliveryId).ToArray());
            update.Parameters.AddWithValue("owner", results.Select(r => r.LeaseOwner).ToArray());
            update.Parameters.AddWithValue("claimed_count", results.Select(r => r.ClaimedAttemptCount).ToArray());
            update.Parameters.AddWithValue("status", results.Select(r => SnakeCase.Of(r.Decision.Status)).ToArray());
            update.Parameters.AddWithValue("retry_in", NpgsqlDbType.Array | NpgsqlDbType.Double,
                results.Select(r => r.Decision.RetryIn is { } wait ? (object)wait.TotalSeconds : DBNull.Value).ToArray());
            update.Parameters.AddWithValue("status_code", NpgsqlDbType.Array | NpgsqlDbType.Integer,
                results.Select(r => (object?)r.Attempt.ResponseStatus ?? DBNull.Value).ToArray());
            update.Parameters.AddWithValue("blocked", results.Select(r => r.Decision.TransformationBlocked).ToArray());
            batch.BatchCommands.Add(update);

            // A fifo key's head that finished lets the next delivery of its key go (the lock first, in its own statement).
            var finishedOrdered = results.Where(r => r.Ordered && r.Decision.Status is DeliveryStatus.Succeeded or DeliveryStatus.Exhausted or DeliveryStatus.Cancelled)
                .Select(r => r.Attempt.DeliveryId).ToArray();
            if (finishedOrdered.Length > 0)
            {
                foreach (var transition in new[] { DeliveryLifecycle.LockOrderingHeads, DeliveryLifecycle.PromoteNext })
                {
                    var command = new NpgsqlBatchCommand(transition);
                    command.Parameters.AddWithValue("id", finishedOrdered);
                    batch.BatchCommands.Add(command);
                }
            }

            var attempts = results.Select(r => r.Attempt).ToArray();
            var insert = new NpgsqlBatchCommand(InsertAttemptsSql);
            insert.Parameters.AddWithValue("id", attempts.Select(a => a.Id).ToArray());
            insert.Parameters.AddWithValue("delivery_id", attempts.Select(a => a.DeliveryId).ToArray());
            insert.Parameters.AddWithValue("message_id", attempts.Select(a => a.MessageId).ToArray());
            insert.Parameters.AddWithValue("endpoint_id", attempts.Select(a => a.EndpointId).ToArray());
            insert.Parameters.AddWithValue("url", attempts.Select(a => a.Url).ToArray());
            insert.Parameters.AddWithValue("trigger", attempts.Select(a => SnakeCase.Of(a.Trigger)).ToArray());
            insert.Parameters.AddWithValue("started_at", attempts.Select(a => a.StartedAt).ToArray());
            insert.Parameters.AddWithValue("duration_ms", attempts.Select(a => a.DurationMs).ToArray());
            insert.Parameters.AddWithValue("request_headers", NpgsqlDbType.Array | NpgsqlDbType.Text,
                attempts.Select(a => a.RequestHeaders is null ? DBNull.Value : (object)JsonSerializer.Serialize(a.RequestHeaders)).ToArray());
            insert.Parameters.AddWithValue("response_status", NpgsqlDbType.Array | NpgsqlDbType.Integer, attempts.Select(a => (object?)a.ResponseStatus ?? DBNull.Value).ToArray());
            insert.Parameters.AddWithValue("response_headers", NpgsqlDbType.Array | NpgsqlDbType.Text,
                attempts.Select(a => a.ResponseHeaders is null ? DBNull.Value : (object)JsonSerializer.Serialize(a.ResponseHeaders)).ToArray());
            insert.Parameters.AddWithValue("response_body", NpgsqlDbType.Array | NpgsqlDbType.Text, attempts.Select(a => (object?)a.ResponseBody ?? DBNull.Value).ToArray());
            insert.Parameters.AddWithValue("error_kind", NpgsqlDbType.Array | NpgsqlDbType.Text, attempts.Select(a => (object?)a.ErrorKind ?? DBNull.Value).ToArray());
            insert.Parameters.AddWithValue("error_message", NpgsqlDbType.Array | NpgsqlDbType.Text, attempts.Select(a => (object?)a.ErrorMessage ?? DBNull.Value).ToArray());
            insert.Parameters.AddWithValue("succeeded", attempts.Select(a => a.Succeeded).ToArray());
            insert.Parameters.AddWithValue("trace_id", NpgsqlDbType.Array | NpgsqlDbType.Text, attempts.Select(a => (object?)a.TraceId ?? DBNull.Value).ToArray());
            insert.Parameters.AddWithValue("token_refreshed", attempts.Select(a => a.TokenRefreshed).ToArray());
            batch.BatchCommands.Add(insert);

            // Only a failure can disable an endpoint, exhaust a delivery or open a circuit, and only a probe close one: a batch
            // of plain successes skips this. Test events are diagnostics: nobody's operational event.
            var exhausted = results
                .Where(r => !r.Attempt.Succeeded && r.Attempt.Trigger != AttemptTrigger.Test && r.Decision.Status == DeliveryStatus.Exhausted)
                .Select(r => r.Attempt.DeliveryId).ToArray();
            if ((healthFailures || probes.Length > 0 || exhausted.Length > 0) && !string.IsNullOrEmpty(health.OperationalApplicationUid))
            {
                var operational = new NpgsqlBatchCommand(OperationalSql);
                operational.Parameters.AddWithValue("op_uid", health.OperationalApplicationUid);
                operational.Parameters.AddWithValue("endpoint_ids", outcomeIds);
                operational.Parameters.AddWithValue("delivery_ids", exhausted);
                // At most one disabled and one circuit event per endpoint, one exhausted event per delivery.
                operational.Parameters.AddWithValue("message_ids", Enumerable.Range(0, 2 * outcomeIds.Length + exhausted.Length).Select(_ => Core.Ids.New(Core.Ids.Message)).ToArray());
                batch.BatchCommands.Add(operational);
            }

            await batch.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>
    /// Gives claimed deliveries back unattempted (rate-limited, or the worker is stopping), due again at the given times.
    /// </summary>
    public async Task ReleaseAsync(string owner, IReadOnlyList<(long Id, TimeSpan DueIn)> releases, CancellationToken ct)
    {
        if (releases.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand(DeliveryLifecycle.Release);
        command.Parameters.AddWithValue("id", releases.Select(r => r.Id).ToArray());
        command.Parameters.AddWithValue("due_in", releases.Select(r => r.DueIn.TotalSeconds).ToArray());
        command.Parameters.AddWithValue("owner", owner);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Lets one probe through for each open circuit whose cool-down has passed (half-open): its held delivery that has
    /// been due longest becomes due now, for whichever worker claims first. Returns how many circuits it probed.
    /// </summary>
    public async Task<int> ProbeCircuitsAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(DeliveryLifecycle.Probe);
        command.Parameters.AddWithValue("limit", 100);
        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>How many deliveries are due now and not yet claimed (the partial index makes this cheap).</summary>
    public async Task<long> CountDueAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM deliveries d WHERE {DeliveryLifecycle.Due("d")}");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Records an attempt for every delivery whose lease expired (its worker died or stalled; the request may or may not
    /// have gone out) and applies the retry rules to it, so the schedule counts it and a delivery can never be sent more
    /// often than its schedule allows. Returns how many it recorded.
    /// </summary>
    public async Task<int> RecordExpiredLeasesAsync(RetrySchedule defaultSchedule, HealthPolicy health, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var results = new List<AttemptResult>();
        // Endpoints first, then their deliveries: the order the recorder takes (see ExpiredLeaseEndpoints).
        var endpointIds = new List<string>();
        await using (var command = new NpgsqlCommand(DeliveryLifecycle.ExpiredLeaseEndpoints, connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                endpointIds.Add(reader.GetString(0));
            }
        }
        if (endpointIds.Count == 0)
        {
            await transaction.CommitAsync(ct);
            return 0;
        }
        await using (var command = new NpgsqlCommand(DeliveryLifecycle.LockEndpoints, connection, transaction))
        {
            command.Parameters.AddWithValue("endpoint_ids", endpointIds.ToArray());
            await command.ExecuteNonQueryAsync(ct);
        }
        await using (var command = new NpgsqlCommand(DeliveryLifecycle.ExpiredLeases, connection, transaction))
        {
            command.Parameters.AddWithValue("limit", 1000);
            command.Parameters.AddWithValue("endpoint_ids", endpointIds.ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var trigger = SnakeCase.Parse<AttemptTrigger>(reader.GetString(2));
                var attempt = new DeliveryAttempt(reader.GetInt64(0), reader.GetString(3), reader.GetString(4), reader.GetString(6), trigger, now)
                {
                    ErrorKind = DeliveryLifecycle.LeaseExpiredErrorKind,
                    ErrorMessage = "The worker sending this attempt stopped before recording it (its lease expired); the request may or may not have reached the endpoint.",
                };
                var custom = reader.IsDBNull(7) ? null : reader.GetFieldValue<int[]>(7);
                var schedule = RetrySchedule.Of(custom, defaultSchedule);
                var decision = DeliveryLifecycle.Decide(reader.GetInt32(1) + 1, AttemptOutcome.Retryable, null, schedule, Random.Shared, trigger);
                results.Add(new AttemptResult(attempt, reader.GetString(5), reader.GetInt32(1), decision, Probe: reader.GetBoolean(8), Ordered: reader.GetBoolean(9)));
            }
        }
        if (results.Count > 0)
        {
            await RecordAsync(connection, transaction, results, health, ct);
        }
        await transaction.CommitAsync(ct);
        return results.Count;
    }

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> attempts, endpoint history entries, then messages (with their deliveries)
    /// older than the cut-off, idle ordering heads (see <see cref="DeliveryLifecycle.ForgetIdleOrderingHeads"/>) and the Svix
    /// surface's idempotent responses past their 12 hours.
    /// </summary>
    public async Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH old_attempts AS (
                DELETE FROM delivery_attempts WHERE id IN (
                    SELECT id FROM delivery_attempts WHERE started_at < @cutoff LIMIT @batch)
                RETURNING 1
            ), old_events AS (
                DELETE FROM endpoint_events WHERE id IN (
                    SELECT id FROM endpoint_events WHERE created_at < @cutoff LIMIT @batch)
                RETURNING 1
            ), old_messages AS (
                DELETE FROM messages WHERE id IN (
                    SELECT m.id FROM messages m
                    WHERE m.created_at < @cutoff
                      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND {DeliveryLifecycle.Unfinished("d")})
                    LIMIT @batch)
                RETURNING 1
            ), idle_heads AS (
                {DeliveryLifecycle.ForgetIdleOrderingHeads}
                RETURNING 1
            ), old_responses AS (
                -- The Svix surface's idempotent responses are kept 12 hours, whatever the retention.
                DELETE FROM idempotent_responses WHERE key_hash IN (
                    SELECT key_hash FROM idempotent_responses WHERE created_at < now() - interval '12 hours' LIMIT @batch)
                RETURNING 1
            ), old_source_events AS (
                DELETE FROM source_events WHERE id IN (
                    SELECT id FROM source_events WHERE received_at < @cutoff LIMIT @batch)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM old_attempts) + (SELECT count(*) FROM old_events) + (SELECT count(*) FROM old_messages)
                 + (SELECT count(*) FROM idle_heads) + (SELECT count(*) FROM old_responses) + (SELECT count(*) FROM old_source_events)
            """);
        command.Parameters.AddWithValue("cutoff", cutoff);
        command.Parameters.AddWithValue("batch", batchSize);
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
