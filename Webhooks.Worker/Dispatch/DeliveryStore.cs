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
    string Url,
    string Secret,
    string? PreviousSecret,
    DateTimeOffset? PreviousSecretExpiresAt,
    Dictionary<string, string> Headers,
    int TimeoutSeconds,
    int? RateLimitPerSecond,
    int[]? RetrySchedule,
    AttemptTrigger Trigger = AttemptTrigger.Scheduled);

/// <summary>What one attempt produced, and the state the delivery moves to.</summary>
public sealed record AttemptResult(ClaimedDelivery Delivery, DeliveryAttempt Attempt, DeliveryDecision Decision);

/// <summary>
/// The delivery engine's hot-path SQL: one round trip to claim a batch (with its messages and endpoints),
/// one transaction to record a batch of attempts. EF Core serves everything else.
/// </summary>
public sealed class DeliveryStore(NpgsqlDataSource dataSource)
{
    // Candidates in due order (the partial index), at most @per_endpoint per endpoint minus what this worker
    // already has in flight there, none of the endpoints it excludes (at capacity, or rate-limited): one slow
    // or busy endpoint cannot fill a claim. Disabled endpoints' deliveries are parked (next_attempt_at NULL)
    // and never reach the index range; the join re-checks for ones disabled a moment ago.
    // A deleted endpoint is also disabled, so 'NOT e.disabled' is the only test here: a second condition on
    // endpoints made the planner (with the stale statistics of a burst just inserted) start from endpoints and
    // re-run the ranking for every due row of a busy endpoint, 0.2–0.5 s per claim.
    private const string ClaimSql = """
        WITH candidates AS (
            SELECT d.id, d.endpoint_id, d.next_attempt_at
            FROM deliveries d
            WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= @now AND d.endpoint_id <> ALL(@full_ids)
            ORDER BY d.next_attempt_at
            LIMIT @scan
        ), ranked AS (
            SELECT c.id, c.next_attempt_at,
                   row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at) AS rank,
                   @per_endpoint - coalesce(b.in_flight, 0) AS room
            FROM candidates c
            LEFT JOIN unnest(@flight_ids, @flight_counts) AS b(endpoint_id, in_flight) ON b.endpoint_id = c.endpoint_id
        ), due AS (
            SELECT d.id, e.timeout_seconds
            FROM deliveries d
            JOIN ranked r ON r.id = d.id AND r.rank <= r.room
            JOIN endpoints e ON e.id = d.endpoint_id AND NOT e.disabled
            WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= @now
            ORDER BY r.next_attempt_at
            LIMIT @limit
            FOR UPDATE OF d SKIP LOCKED
        ), claimed AS (
            UPDATE deliveries d
            SET status = 'in_flight',
                lease_owner = @owner,
                lease_expires_at = @now + make_interval(secs => due.timeout_seconds + @margin),
                updated_at = @now
            FROM due
            WHERE d.id = due.id
            RETURNING d.id, d.attempt_count, d.message_id, d.endpoint_id, d.trigger
        )
        SELECT c.id, c.attempt_count, m.id, m.event_type, m.payload::text, m.created_at, m.trace_parent,
               e.id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at, e.headers::text, e.timeout_seconds,
               e.rate_limit_per_second, coalesce(e.retry_schedule, a.retry_schedule), c.trigger
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
                                       request_headers, response_status, response_headers, response_body, error_kind, error_message, succeeded)
        SELECT u.* FROM unnest(@id, @delivery_id, @message_id, @endpoint_id, @url, @trigger, @started_at, @duration_ms,
                             @request_headers::jsonb[], @response_status, @response_headers::jsonb[], @response_body, @error_kind, @error_message, @succeeded)
            AS u(id, delivery_id, message_id, endpoint_id, url, trigger, started_at, duration_ms, request_headers, response_status,
                 response_headers, response_body, error_kind, error_message, succeeded)
        WHERE u.delivery_id IN (SELECT id FROM present)
        """;

    // Only rows whose lease is still ours: a lease lost to another worker means that worker now owns the delivery.
    private const string UpdateDeliveriesSql = """
        UPDATE deliveries d
        SET status = u.status,
            attempt_count = d.attempt_count + 1,
            next_attempt_at = u.next_attempt_at,
            last_status_code = u.status_code,
            trigger = 'scheduled',
            lease_owner = NULL,
            lease_expires_at = NULL,
            updated_at = @now
        FROM unnest(@id, @status, @next_attempt_at, @status_code) AS u(id, status, next_attempt_at, status_code)
        WHERE d.id = u.id AND d.lease_owner = @owner AND d.status = 'in_flight'
        """;

    // Health: a success resets the failure streak; a streak of at least @disable_after_failures failures that
    // began at least @disable_after_seconds ago, or a 410 Gone, disables the endpoint with a reason.
    private const string UpdateEndpointsSql = """
        WITH outcome AS (
            SELECT e.id, u.succeeded, u.failures, u.gone,
                   NOT u.succeeded
                       AND e.consecutive_failures + u.failures >= @disable_after_failures
                       AND coalesce(e.first_failure_at, @now) <= @now - make_interval(secs => @disable_after_seconds) AS too_long
            FROM unnest(@id, @succeeded, @failures, @gone) AS u(id, succeeded, failures, gone)
            JOIN endpoints e ON e.id = u.id
        )
        UPDATE endpoints e
        SET consecutive_failures = CASE WHEN o.succeeded THEN 0 ELSE e.consecutive_failures + o.failures END,
            first_failure_at = CASE WHEN o.succeeded THEN NULL ELSE coalesce(e.first_failure_at, @now) END,
            last_success_at = CASE WHEN o.succeeded THEN @now ELSE e.last_success_at END,
            disabled = e.disabled OR o.gone OR o.too_long,
            disabled_reason = CASE
                WHEN e.disabled THEN e.disabled_reason
                WHEN o.gone THEN 'The endpoint answered 410 Gone.'
                WHEN o.too_long THEN format('Failing without a success since %s (%s attempts in a row).',
                    to_char(coalesce(e.first_failure_at, @now) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), e.consecutive_failures + o.failures)
                ELSE e.disabled_reason END,
            disabled_at = CASE WHEN NOT e.disabled AND (o.gone OR o.too_long) THEN @now ELSE e.disabled_at END,
            updated_at = @now
        FROM outcome o
        WHERE e.id = o.id
        """;

    // A disabled endpoint's due deliveries leave the due range (next_attempt_at NULL): kept, not attempted,
    // and resumed when the endpoint is enabled again.
    private const string ParkDisabledSql = """
        UPDATE deliveries d
        SET next_attempt_at = NULL, updated_at = @now
        FROM endpoints e
        WHERE e.id = ANY(@id) AND e.disabled AND d.endpoint_id = e.id
          AND d.status IN ('pending', 'failed') AND d.next_attempt_at IS NOT NULL
        """;

    // Operational webhooks, in the same transaction as the outcomes that cause them (so none is lost or invented):
    // an endpoint this batch disabled (disabled_at = @now) and a delivery it exhausted (updated_at = @now) become
    // messages of the operational application, with a delivery to each of its endpoints subscribed to the type.
    // Events about the operational application itself are not emitted (no loops).
    private const string OperationalSql = """
        WITH op AS (
            SELECT id FROM applications WHERE uid = @op_uid AND deleted_at IS NULL
        ), events AS (
            SELECT 'endpoint.disabled' AS event_type, e.application_id AS source,
                   jsonb_build_object('applicationId', e.application_id, 'endpointId', e.id, 'url', e.url,
                                      'reason', e.disabled_reason, 'disabledAt', e.disabled_at) AS payload
            FROM endpoints e
            WHERE e.id = ANY(@endpoint_ids) AND e.disabled AND e.disabled_at = @now
            UNION ALL
            SELECT 'message.attempt.exhausted', d.application_id,
                   jsonb_build_object('applicationId', d.application_id, 'endpointId', d.endpoint_id, 'messageId', d.message_id,
                                      'attempts', d.attempt_count, 'lastStatusCode', d.last_status_code, 'exhaustedAt', d.updated_at)
            FROM deliveries d
            WHERE d.id = ANY(@delivery_ids) AND d.status = 'exhausted' AND d.updated_at = @now
        ), numbered AS (
            SELECT ev.*, op.id AS op_app, row_number() OVER () AS n
            FROM events ev CROSS JOIN op
            WHERE ev.source <> op.id
        ), inserted AS (
            INSERT INTO messages (id, application_id, event_type, payload, channels, created_at)
            SELECT (@message_ids)[n], op_app, event_type, payload, '{}', @now FROM numbered
            RETURNING id, application_id, event_type
        )
        INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempt_count, next_attempt_at, trigger, created_at, updated_at)
        SELECT i.id, e.id, i.application_id, 'pending', 0, CASE WHEN e.disabled THEN NULL ELSE @now END, 'scheduled', @now, @now
        FROM inserted i
        JOIN endpoints e ON e.application_id = i.application_id AND e.deleted_at IS NULL
                        AND (cardinality(e.event_types) = 0 OR i.event_type = ANY(e.event_types))
        """;

    /// <summary>What a claim may take: how many, how many per endpoint, and what this worker already holds.</summary>
    public sealed record ClaimLimits(int Limit, int PerEndpoint, IReadOnlyDictionary<string, int> InFlightByEndpoint, IReadOnlyCollection<string> Excluded);

    public async Task<List<ClaimedDelivery>> ClaimAsync(string owner, ClaimLimits limits, int leaseMarginSeconds, DateTimeOffset now, CancellationToken ct)
    {
        var busy = new Dictionary<string, int>(limits.InFlightByEndpoint.Where(kv => kv.Value > 0));
        foreach (var excluded in limits.Excluded)
        {
            busy[excluded] = limits.PerEndpoint;
        }
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("limit", limits.Limit);
        command.Parameters.AddWithValue("scan", limits.Limit * 4);
        command.Parameters.AddWithValue("per_endpoint", limits.PerEndpoint);
        command.Parameters.AddWithValue("full_ids", busy.Where(kv => kv.Value >= limits.PerEndpoint).Select(kv => kv.Key).ToArray());
        command.Parameters.AddWithValue("flight_ids", busy.Where(kv => kv.Value < limits.PerEndpoint).Select(kv => kv.Key).ToArray());
        command.Parameters.AddWithValue("flight_counts", busy.Where(kv => kv.Value < limits.PerEndpoint).Select(kv => kv.Value).ToArray());
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
                Url: reader.GetString(8),
                Secret: reader.GetString(9),
                PreviousSecret: reader.IsDBNull(10) ? null : reader.GetString(10),
                PreviousSecretExpiresAt: reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
                Headers: JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(12)) ?? [],
                TimeoutSeconds: reader.GetInt32(13),
                RateLimitPerSecond: reader.IsDBNull(14) ? null : reader.GetInt32(14),
                RetrySchedule: reader.IsDBNull(15) ? null : reader.GetFieldValue<int[]>(15),
                Trigger: SnakeCase.Parse<AttemptTrigger>(reader.GetString(16))));
        }
        return claimed;
    }

    /// <summary>Stores the attempts, moves each delivery to its next state and updates endpoint health, atomically.</summary>
    /// <summary>When failing endpoints are disabled: after this many failures in a row, failing for at least this long.</summary>
    public readonly record struct HealthPolicy(int DisableAfterFailures, TimeSpan DisableAfter, string? OperationalApplicationUid = null);

    public async Task RecordAsync(string owner, IReadOnlyList<AttemptResult> results, HealthPolicy health, DateTimeOffset now, CancellationToken ct)
    {
        if (results.Count == 0)
        {
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
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
            batch.BatchCommands.Add(insert);

            var update = new NpgsqlBatchCommand(UpdateDeliveriesSql);
            update.Parameters.AddWithValue("id", results.Select(r => r.Delivery.Id).ToArray());
            update.Parameters.AddWithValue("status", results.Select(r => SnakeCase.Of(r.Decision.Status)).ToArray());
            update.Parameters.AddWithValue("next_attempt_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
                results.Select(r => r.Decision.NextAttemptAt is { } at ? (object)at : DBNull.Value).ToArray());
            update.Parameters.AddWithValue("status_code", NpgsqlDbType.Array | NpgsqlDbType.Integer,
                results.Select(r => (object?)r.Attempt.ResponseStatus ?? DBNull.Value).ToArray());
            update.Parameters.AddWithValue("owner", owner);
            update.Parameters.AddWithValue("now", now);
            batch.BatchCommands.Add(update);

            // Per endpoint: the batch's last outcome decides healthy or not; failures add up.
            var outcomes = results
                .GroupBy(r => r.Delivery.EndpointId)
                .Select(g => (
                    Id: g.Key,
                    Succeeded: g.OrderBy(r => r.Attempt.StartedAt).Last().Attempt.Succeeded,
                    Failures: g.Count(r => !r.Attempt.Succeeded),
                    Gone: g.Any(r => r.Decision.DisableEndpoint)))
                .ToArray();
            var endpoints = new NpgsqlBatchCommand(UpdateEndpointsSql);
            endpoints.Parameters.AddWithValue("id", outcomes.Select(h => h.Id).ToArray());
            endpoints.Parameters.AddWithValue("succeeded", outcomes.Select(h => h.Succeeded).ToArray());
            endpoints.Parameters.AddWithValue("failures", outcomes.Select(h => h.Failures).ToArray());
            endpoints.Parameters.AddWithValue("gone", outcomes.Select(h => h.Gone).ToArray());
            endpoints.Parameters.AddWithValue("now", now);
            endpoints.Parameters.AddWithValue("disable_after_failures", health.DisableAfterFailures);
            endpoints.Parameters.AddWithValue("disable_after_seconds", health.DisableAfter.TotalSeconds);
            batch.BatchCommands.Add(endpoints);

            var park = new NpgsqlBatchCommand(ParkDisabledSql);
            park.Parameters.AddWithValue("id", outcomes.Select(h => h.Id).ToArray());
            park.Parameters.AddWithValue("now", now);
            batch.BatchCommands.Add(park);

            // Only a failure can disable an endpoint or exhaust a delivery: a batch of successes skips this.
            var failed = results.Where(r => !r.Attempt.Succeeded).ToArray();
            if (failed.Length > 0 && !string.IsNullOrEmpty(health.OperationalApplicationUid))
            {
                var operational = new NpgsqlBatchCommand(OperationalSql);
                var endpointIds = failed.Select(r => r.Delivery.EndpointId).Distinct().ToArray();
                var deliveryIds = failed.Where(r => r.Decision.Status == DeliveryStatus.Exhausted).Select(r => r.Delivery.Id).ToArray();
                operational.Parameters.AddWithValue("op_uid", health.OperationalApplicationUid);
                operational.Parameters.AddWithValue("endpoint_ids", endpointIds);
                operational.Parameters.AddWithValue("delivery_ids", deliveryIds);
                operational.Parameters.AddWithValue("message_ids", Enumerable.Range(0, endpointIds.Length + deliveryIds.Length).Select(_ => Core.Ids.New(Core.Ids.Message)).ToArray());
                operational.Parameters.AddWithValue("now", now);
                batch.BatchCommands.Add(operational);
            }

            await batch.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
    }

    /// <summary>
    /// Gives claimed deliveries back unattempted (rate-limited, or the worker is stopping), due again at the given times.
    /// </summary>
    public async Task ReleaseAsync(string owner, IReadOnlyList<(long Id, DateTimeOffset DueAt)> releases, DateTimeOffset now, CancellationToken ct)
    {
        if (releases.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand("""
            UPDATE deliveries d
            SET status = CASE WHEN d.attempt_count = 0 THEN 'pending' ELSE 'failed' END,
                next_attempt_at = u.due_at, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now
            FROM unnest(@id, @due_at) AS u(id, due_at)
            WHERE d.id = u.id AND d.lease_owner = @owner AND d.status = 'in_flight'
            """);
        command.Parameters.AddWithValue("id", releases.Select(r => r.Id).ToArray());
        command.Parameters.AddWithValue("due_at", releases.Select(r => r.DueAt).ToArray());
        command.Parameters.AddWithValue("owner", owner);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>How many deliveries are due now and not yet claimed (the partial index makes this cheap).</summary>
    public async Task<long> CountDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed') AND next_attempt_at <= @now");
        command.Parameters.AddWithValue("now", now);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Makes deliveries whose lease expired (their worker died or stalled) due again. Returns how many.</summary>
    public async Task<int> RequeueExpiredLeasesAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE deliveries
            SET status = CASE WHEN attempt_count = 0 THEN 'pending' ELSE 'failed' END,
                next_attempt_at = @now, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now
            WHERE status = 'in_flight' AND lease_expires_at < @now
            """);
        command.Parameters.AddWithValue("now", now);
        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes up to <paramref name="batchSize"/> attempts, then messages (with their deliveries) older than the cut-off.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset cutoff, int batchSize, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            WITH old_attempts AS (
                DELETE FROM delivery_attempts WHERE id IN (
                    SELECT id FROM delivery_attempts WHERE started_at < @cutoff LIMIT @batch)
                RETURNING 1
            ), old_messages AS (
                DELETE FROM messages WHERE id IN (
                    SELECT m.id FROM messages m
                    WHERE m.created_at < @cutoff
                      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.status IN ('pending', 'in_flight', 'failed'))
                    LIMIT @batch)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM old_attempts) + (SELECT count(*) FROM old_messages)
            """);
        command.Parameters.AddWithValue("cutoff", cutoff);
        command.Parameters.AddWithValue("batch", batchSize);
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
