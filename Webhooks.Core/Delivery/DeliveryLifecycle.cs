using Webhooks.Core.Data;

namespace Webhooks.Core.Delivery;

/// <summary>How an attempt ended, as far as the delivery rules care.</summary>
public enum AttemptOutcome
{
    /// <summary>2xx.</summary>
    Succeeded,
    /// <summary>Network error, timeout, cut-off response, 408, 429 or 5xx, or anything unexpected: try again later.</summary>
    Retryable,
    /// <summary>Any other 4xx, or a 3xx (redirects are never followed): no point retrying.</summary>
    Rejected,
    /// <summary>410 Gone: the receiver asks never to be called again; the endpoint is disabled.</summary>
    Gone,
    /// <summary>The endpoint's transformation threw, ran over its limits or returned what cannot be sent: nothing was sent.</summary>
    TransformationFailed,
    /// <summary>The endpoint's transformation set <c>cancel</c>: nothing was sent, and nothing will be.</summary>
    Cancelled,
}

/// <summary>
/// What happens to a delivery after an attempt: its next status, how long until the next attempt (measured on the
/// database's clock when recorded), and whether the endpoint is to be disabled. <paramref name="TransformationBlocked"/>:
/// parked until the endpoint's transformation (or format) changes.
/// </summary>
public readonly record struct DeliveryDecision(DeliveryStatus Status, TimeSpan? RetryIn, bool DisableEndpoint, bool TransformationBlocked = false);

/// <summary>
/// The delivery state machine, written once and used by the API and the worker alike.
/// <code>
///   published ──▶ pending ──claim──▶ in_flight ──record──▶ succeeded
///                    ▲  ▲                │  │  │
///                    │  └──release───────┘  │  └──record / lease expired──▶ failed ──(due again)──▶ claim
///                    │                      └──record / lease expired (schedule spent, rejected, test)──▶ exhausted
///   resend / recover ┘ (any state but in_flight)        pending | failed ──endpoint or application deleted──▶ cancelled
///                                          in_flight ──record (transformation set cancel)──▶ cancelled
///                                          in_flight ──record (transformation failed)──▶ failed, blocked ──transformation changed──▶ due
/// </code>
/// A delivery whose transformation failed is <em>blocked</em> (<c>transformation_blocked</c>, <c>next_attempt_at</c> NULL):
/// the same script would fail the same way, so it waits for the endpoint's transformation or format to change
/// (<see cref="Unblock"/>, in the update's transaction), or for a resend or recover, the manual override. Enabling the
/// endpoint or closing its circuit does not release it.
/// A waiting delivery (pending or failed) is <em>due</em> when its <c>next_attempt_at</c> has passed on the database's
/// clock; a disabled endpoint's waiting deliveries are <em>parked</em> (<c>next_attempt_at</c> NULL) and become due
/// again when it is enabled. To a <c>fifo</c> endpoint, a delivery waiting behind an earlier one of its ordering key is
/// <em>queued</em> (pending, <c>next_attempt_at</c> NULL) until the transaction that finishes that one promotes it
/// (<see cref="PromoteNext"/>); no transition that makes deliveries due touches a queued one. Every claim ends in exactly one of: an attempt recorded by its worker, an attempt recorded
/// by the lease sweep (the worker died or stalled; the request may or may not have gone out), or a release before
/// anything was sent. So every request sent is an attempt on record, and no delivery is sent more often than its
/// schedule allows. Leases are decided on the database's clock only.
/// </summary>
public static class DeliveryLifecycle
{
    /// <summary>The longest wait a <c>Retry-After</c> header can impose.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(6);

    /// <summary>The error kind of an attempt recorded by the lease sweep.</summary>
    public const string LeaseExpiredErrorKind = "lease_expired";

    public static AttemptOutcome Classify(int? statusCode) => statusCode switch
    {
        null => AttemptOutcome.Retryable,
        >= 200 and < 300 => AttemptOutcome.Succeeded,
        410 => AttemptOutcome.Gone,
        408 or 429 or >= 500 => AttemptOutcome.Retryable,
        _ => AttemptOutcome.Rejected,
    };

    /// <summary>
    /// The next state after attempt number <paramref name="attemptsMade"/> ended with <paramref name="outcome"/>.
    /// A retry waits the schedule's delay or the receiver's <c>Retry-After</c>, whichever is longer (capped at
    /// <see cref="MaxRetryAfter"/>). A test event is attempted once: whatever its outcome, it is not retried and
    /// changes nothing about the endpoint.
    /// </summary>
    public static DeliveryDecision Decide(
        int attemptsMade, AttemptOutcome outcome, TimeSpan? retryAfter, RetrySchedule schedule, Random random, AttemptTrigger trigger = AttemptTrigger.Scheduled)
    {
        if (outcome == AttemptOutcome.Cancelled)
        {
            return new DeliveryDecision(DeliveryStatus.Cancelled, null, false);
        }
        if (trigger == AttemptTrigger.Test)
        {
            return new DeliveryDecision(outcome == AttemptOutcome.Succeeded ? DeliveryStatus.Succeeded : DeliveryStatus.Exhausted, null, false);
        }
        switch (outcome)
        {
            case AttemptOutcome.Succeeded:
                return new DeliveryDecision(DeliveryStatus.Succeeded, null, false);
            case AttemptOutcome.Gone:
                return new DeliveryDecision(DeliveryStatus.Exhausted, null, true);
            case AttemptOutcome.Rejected:
                return new DeliveryDecision(DeliveryStatus.Exhausted, null, false);
            case AttemptOutcome.TransformationFailed:
                return new DeliveryDecision(DeliveryStatus.Failed, null, false, TransformationBlocked: true);
        }
        if (schedule.DelayBefore(attemptsMade + 1, random) is not { } delay)
        {
            return new DeliveryDecision(DeliveryStatus.Exhausted, null, false);
        }
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxRetryAfter ? asked : MaxRetryAfter;
        }
        return new DeliveryDecision(DeliveryStatus.Failed, delay, false);
    }

    /// <summary>Whether an attempt counts towards its endpoint's health (failure streak, auto-disable, 410).</summary>
    public static bool AffectsEndpointHealth(AttemptTrigger trigger, string? errorKind) =>
        trigger != AttemptTrigger.Test && errorKind is not (LeaseExpiredErrorKind or InternalErrorKind or TransformationErrorKind or CancelledErrorKind);

    /// <summary>The error kind of an attempt whose transformation failed (nothing was sent; the endpoint is not to blame).</summary>
    public const string TransformationErrorKind = "transformation";

    /// <summary>The error kind of an attempt the transformation cancelled (nothing was sent, by choice).</summary>
    public const string CancelledErrorKind = "cancelled";

    /// <summary>The error kind of an attempt that failed inside the worker (a bug of ours), not at the endpoint.</summary>
    public const string InternalErrorKind = "internal";

    // ---- SQL: every statement that moves a delivery from one state to another lives below. ----

    /// <summary>A delivery waiting for an attempt (<paramref name="d"/> is the deliveries alias).</summary>
    public static string Waiting(string d) => $"{d}.status IN ('pending', 'failed')";

    /// <summary>A delivery not yet finished: waiting or in flight (its message is kept until none is).</summary>
    public static string Unfinished(string d) => $"{d}.status IN ('pending', 'in_flight', 'failed')";

    /// <summary>A delivery held by a live lease, on the database's clock: its worker may still be sending it.</summary>
    public static string UnderLiveLease(string d) => $"{d}.status = 'in_flight' AND {d}.lease_expires_at > now()";

    /// <summary>
    /// How much earlier each priority level makes a delivery look due to the claim: a priority-9 delivery goes before a
    /// priority-1 one that became due up to 8 × 10 s = 80 s before it, and after one that has waited longer, so age
    /// always wins in the end and no priority starves.
    /// </summary>
    public static readonly TimeSpan PriorityStep = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The order the claim takes due deliveries in (<paramref name="d"/> is the deliveries alias): when each became due,
    /// brought forward <see cref="PriorityStep"/> per priority level. An immutable expression (UTC timestamp minus an
    /// interval of seconds), so the partial expression index <c>ix_deliveries_due</c> serves it; its migration spells
    /// the same expression.
    /// </summary>
    public static string ClaimOrder(string d) =>
        $"(({d}.next_attempt_at AT TIME ZONE 'UTC') - {d}.priority * interval '{PriorityStep.TotalSeconds:0} seconds')";

    /// <summary>
    /// A waiting delivery whose time has come, on the database's clock. The bound on <see cref="ClaimOrder"/> follows from
    /// the first (priorities are not negative) and lets the partial index <c>ix_deliveries_due</c> read only the due rows
    /// (and those due within the next 90 s).
    /// </summary>
    public static string Due(string d) => $"{Waiting(d)} AND {d}.next_attempt_at <= now() AND {ClaimOrder(d)} <= (now() AT TIME ZONE 'UTC')";

    /// <summary>
    /// <see cref="Due"/> as a check of rows already found by id (under the row lock, on their newest version), written so
    /// the planner cannot read it through <c>ix_deliveries_due</c>: on a table filled since its statistics were taken it
    /// would, thinking that index holds a couple of rows, and scan every due row instead of the few ids it was given.
    /// </summary>
    public static string StillDue(string d) => $"({Due(d)}) IS TRUE";

    /// <summary>
    /// Endpoint <paramref name="e"/>'s open circuit holds back delivery <paramref name="d"/> (all but its probe; a new row,
    /// <paramref name="d"/> null, is held whenever the circuit is open).
    /// </summary>
    public static string HeldByCircuit(string e, string? d = null) =>
        d is null ? $"{e}.circuit_opened_at IS NOT NULL" : $"({e}.circuit_opened_at IS NOT NULL AND {e}.circuit_probe_id IS DISTINCT FROM {d}.id)";

    /// <summary>
    /// The <c>SET</c> items that make a waiting delivery <paramref name="d"/> of endpoint <paramref name="e"/> due at
    /// <paramref name="dueAt"/> (NULL: never, it is finished): parked while the endpoint is disabled; held while its
    /// circuit is open, remembering <paramref name="dueAt"/> in <c>held_due_at</c> for when it closes.
    /// </summary>
    public static string DueAt(string e, string d, string dueAt) =>
        $"next_attempt_at = CASE WHEN {e}.disabled OR {HeldByCircuit(e, d)} THEN NULL ELSE {dueAt} END, " +
        $"held_due_at = CASE WHEN {HeldByCircuit(e, d)} THEN {dueAt} END";

    /// <summary>When a new delivery to endpoint <paramref name="e"/> is due: now, or parked while it is disabled or held while its circuit is open.</summary>
    public static string DueNowUnlessDisabled(string e) => $"CASE WHEN {e}.disabled OR {HeldByCircuit(e)} THEN NULL ELSE now() END";

    /// <summary>When a new delivery to endpoint <paramref name="e"/> goes if its circuit is open: now, as the probe or once the circuit closes.</summary>
    public static string HeldNowIfOpen(string e) => $"CASE WHEN {HeldByCircuit(e)} THEN now() END";

    /// <summary>
    /// The subscription rule: endpoint <paramref name="e"/> (not deleted) receives a message of event type
    /// <paramref name="eventType"/> on channels <paramref name="channels"/> when its event types (empty: all) hold the
    /// type and its channels (empty: all) share one with the message.
    /// </summary>
    public static string Subscribes(string e, string eventType, string channels) =>
        $"{e}.deleted_at IS NULL AND (cardinality({e}.event_types) = 0 OR {eventType} = ANY({e}.event_types)) " +
        $"AND (cardinality({e}.channels) = 0 OR {e}.channels && {channels})";

    /// <summary>
    /// The payload filter rule: endpoint <paramref name="e"/> has no filter, or payload <paramref name="payload"/> (jsonb)
    /// passes its translated filter (<c>filter_path</c>, see <see cref="PayloadFilter"/>). Never NULL: a predicate left
    /// unknown (a missing field in strict mode) does not pass.
    /// </summary>
    public static string PassesFilter(string e, string payload) =>
        $"({e}.filter_path IS NULL OR coalesce({payload} @@ {e}.filter_path, false))";

    /// The rest of a statement (after <c>WITH …,</c>) that inserts one delivery per (message, subscribed endpoint whose filter the payload passes) from a
    /// query aliased <c>m</c> with columns <c>id</c>, <c>application_id</c>, <c>event_type</c>, <c>channels</c>,
    /// <c>priority</c>, <c>ordering_key</c>, <c>ord</c> (the messages' order in the statement) and <c>payload_json</c> (the payload as jsonb, parsed once per message; it may be NULL when no endpoint of the application has a filter): the publish statement
    /// and the operational events both fan out this way, in (<c>ord</c>, endpoint) order.
    /// <para>
    /// A delivery to a <c>fifo</c> endpoint takes the next sequence numbers of its key from <c>ordering_heads</c>
    /// (upserted in (endpoint, key) order, so concurrent publishes lock in one order and cannot deadlock). The row stays
    /// locked until the publish commits, so a later sequence number can only commit after an earlier one: sequence order
    /// is commit order, per key. The key's first delivery is due (its <c>active_seq</c>) if the key had nothing
    /// unfinished, read from that locked row: never from a snapshot older than the last finished delivery. The others are
    /// <see cref="Queued"/>. Unordered endpoints take no lock and write nothing more.
    /// </para>
    /// </summary>
    public static string FanOut(string messages) => $"""
        fanned AS (
            SELECT m.id AS message_id, e.id AS endpoint_id, m.application_id, m.priority, m.ord,
                   CASE WHEN e.ordering = 'fifo' THEN coalesce(m.ordering_key, '') END AS ordering_key,
                   {DueNowUnlessDisabled("e")} AS due_at, {HeldNowIfOpen("e")} AS held_at
            FROM {messages} m
            JOIN endpoints e ON e.application_id = m.application_id AND {Subscribes("e", "m.event_type", "m.channels")}
                AND {PassesFilter("e", "m.payload_json")}
        ), keys AS (
            SELECT endpoint_id, ordering_key, count(*) AS n FROM fanned WHERE ordering_key IS NOT NULL GROUP BY endpoint_id, ordering_key
        ), heads AS (
            {TakeSequence("keys", "endpoint_id")}
        ), sequenced AS (
            SELECT f.message_id, f.endpoint_id, h.active_seq,
                   h.next_seq - k.n + row_number() OVER (PARTITION BY f.endpoint_id, f.ordering_key ORDER BY f.ord) AS seq
            FROM fanned f
            JOIN keys k ON k.endpoint_id = f.endpoint_id AND k.ordering_key = f.ordering_key
            JOIN heads h ON h.endpoint_id = f.endpoint_id AND h.ordering_key = f.ordering_key
        )
        INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempt_count, next_attempt_at, held_due_at, trigger, priority,
                                ordering_key, ordering_seq, queued, created_at, updated_at)
        SELECT f.message_id, f.endpoint_id, f.application_id, 'pending', 0,
               CASE WHEN s.seq <> s.active_seq THEN NULL ELSE f.due_at END, CASE WHEN s.seq <> s.active_seq THEN NULL ELSE f.held_at END,
               'scheduled', f.priority, f.ordering_key, s.seq, coalesce(s.seq <> s.active_seq, false), now(), now()
        FROM fanned f
        LEFT JOIN sequenced s ON s.message_id = f.message_id AND s.endpoint_id = f.endpoint_id
        ORDER BY f.ord, f.endpoint_id
        """;

    /// <summary>
    /// Takes <c>n</c> sequence numbers for each (endpoint, <c>ordering_key</c>) of <paramref name="keys"/> (endpoint in
    /// column <paramref name="endpoint"/>), in (endpoint, key) order, locking the head rows until commit; returns each head
    /// with its new <c>next_seq</c> (the last number taken) and <c>active_seq</c>: unchanged if the key has an unfinished
    /// delivery, else the first number taken, which therefore goes at once.
    /// </summary>
    private static string TakeSequence(string keys, string endpoint) => $"""
        INSERT INTO ordering_heads AS h (endpoint_id, ordering_key, next_seq, active_seq)
            SELECT {endpoint}, ordering_key, n, 1 FROM {keys} ORDER BY {endpoint}, ordering_key
            ON CONFLICT (endpoint_id, ordering_key) DO UPDATE
            SET next_seq = h.next_seq + excluded.next_seq, active_seq = coalesce(h.active_seq, h.next_seq + 1)
            RETURNING h.endpoint_id, h.ordering_key, h.next_seq, h.active_seq
        """;

    /// <summary>
    /// The <c>payload_json</c> of <see cref="FanOut"/>: the payload text <paramref name="payload"/> as jsonb, parsed only
    /// if an endpoint of its application (<paramref name="application"/>) has a filter (a publish no filter looks at pays
    /// nothing for them). Select it in a <c>MATERIALIZED</c> CTE, so each payload is parsed once, not once per endpoint.
    /// </summary>
    public static string PayloadJson(string payload, string application) =>
        $"CASE WHEN EXISTS (SELECT 1 FROM endpoints f WHERE f.application_id = {application} AND f.filter_path IS NOT NULL AND f.deleted_at IS NULL) " +
        $"THEN {payload}::jsonb END";

    /// <summary>
    /// Claim: due deliveries chosen by <paramref name="chosen"/> (a CTE with <c>id</c> and <c>timeout_seconds</c>)
    /// go in flight under this worker's lease, which ends, on the database's clock, after the endpoint's timeout
    /// plus <c>@margin</c> seconds.
    /// </summary>
    public static string Claim(string chosen) => $"""
        UPDATE deliveries d
        SET status = 'in_flight',
            lease_owner = @owner,
            lease_expires_at = now() + make_interval(secs => {chosen}.timeout_seconds + @margin),
            updated_at = now()
        FROM {chosen}
        WHERE d.id = {chosen}.id AND d.id = ANY(ARRAY(SELECT id FROM {chosen})) AND {StillDue("d")}
        """;

    /// <summary>
    /// Record: each delivery (<c>@id</c>) still under the claim the result belongs to — held by <c>@owner</c> with the
    /// attempt count it was claimed with (<c>@claimed_count</c>), so a late result can never land on a later claim of
    /// the same delivery — takes the decided status and retry delay (seconds, NULL for none), counting one more
    /// attempt. A disabled endpoint's retry is parked, an open circuit's held. A claim lost meanwhile (the sweep recorded
    /// it) is left alone; the late attempt still goes into the log. The caller locks the endpoints first
    /// (<see cref="LockEndpoints"/>) and moves the circuit before this (a failed probe's retry is held).
    /// </summary>
    public static readonly string Record = $"""
        UPDATE deliveries d
        SET status = u.status,
            attempt_count = d.attempt_count + 1,
            {DueAt("e", "d", "now() + make_interval(secs => u.retry_in)")},
            last_status_code = u.status_code,
            transformation_blocked = u.blocked,
            trigger = 'scheduled',
            lease_owner = NULL,
            lease_expires_at = NULL,
            updated_at = now()
        FROM unnest(@id, @owner, @claimed_count, @status, @retry_in, @status_code, @blocked) AS u(id, owner, claimed_count, status, retry_in, status_code, blocked), endpoints e
        WHERE d.id = u.id AND e.id = d.endpoint_id AND d.status = 'in_flight' AND d.lease_owner = u.owner AND d.attempt_count = u.claimed_count
        """;

    /// <summary>
    /// Locks the endpoints a batch of outcomes touches, in id order, before their deliveries: recording, enabling and
    /// disabling then serialize per endpoint (a retry is never parked on an endpoint enabled a moment before, nor left
    /// due on one disabled a moment before), and two workers recording the same endpoints cannot deadlock.
    /// </summary>
    public const string LockEndpoints = "SELECT 1 FROM endpoints WHERE id = ANY(@endpoint_ids) ORDER BY id FOR NO KEY UPDATE";

    /// <summary>
    /// Release: handed back unattempted (rate-limited, or the request could not be built), due again <c>@due_in</c>
    /// seconds from now on the database's clock (parked if the endpoint was disabled meanwhile, held if its circuit
    /// opened; a probe stays the probe); nothing was sent, nothing is counted.
    /// </summary>
    public static readonly string Release = $"""
        UPDATE deliveries d
        SET status = CASE WHEN d.attempt_count = 0 THEN 'pending' ELSE 'failed' END,
            {DueAt("e", "d", "now() + make_interval(secs => u.due_in)")}, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        FROM unnest(@id, @due_in) AS u(id, due_in), endpoints e
        WHERE d.id = u.id AND e.id = d.endpoint_id AND d.lease_owner = @owner AND d.status = 'in_flight'
        """;

    /// <summary>
    /// Lease expired: the deliveries (of <c>@endpoint_ids</c>, already locked) whose worker died or stalled past its
    /// lease, locked for the sweep, with what <see cref="Decide"/> needs (and whether it is its endpoint's circuit
    /// probe). The sweep records each as an attempt (<see cref="LeaseExpiredErrorKind"/>) through
    /// <see cref="Record"/>, so the schedule counts it.
    /// </summary>
    public const string ExpiredLeases = """
        SELECT d.id, d.attempt_count, d.trigger, d.message_id, d.endpoint_id, d.lease_owner, e.url,
               coalesce(e.retry_schedule, a.retry_schedule), e.circuit_probe_id IS NOT DISTINCT FROM d.id, d.ordering_seq IS NOT NULL
        FROM deliveries d
        JOIN endpoints e ON e.id = d.endpoint_id
        JOIN applications a ON a.id = d.application_id
        WHERE d.status = 'in_flight' AND d.lease_expires_at < now() AND d.endpoint_id = ANY(@endpoint_ids)
        ORDER BY d.lease_expires_at
        LIMIT @limit
        FOR UPDATE OF d SKIP LOCKED
        """;

    /// <summary>
    /// The endpoints that have deliveries under an expired lease: the sweep locks them (<see cref="LockEndpoints"/>)
    /// before it locks those deliveries (<see cref="ExpiredLeases"/>, for these endpoints only), the order every
    /// recorder takes, so a sweep and a late record of the same delivery cannot deadlock.
    /// </summary>
    public const string ExpiredLeaseEndpoints = """
        SELECT DISTINCT d.endpoint_id FROM deliveries d WHERE d.status = 'in_flight' AND d.lease_expires_at < now()
        """;

    /// <summary>Park: the waiting deliveries of the disabled endpoints among <c>@endpoint_ids</c> stop being due.</summary>
    public const string Park = """
        UPDATE deliveries d
        SET next_attempt_at = NULL, updated_at = now()
        FROM endpoints e
        WHERE e.id = ANY(@endpoint_ids) AND e.disabled AND d.endpoint_id = e.id
          AND d.status IN ('pending', 'failed') AND d.next_attempt_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM endpoints x WHERE x.id = ANY(@endpoint_ids) AND x.disabled)
        """;

    /// <summary>
    /// Unpark: the parked (or held) deliveries of the enabled endpoints among <c>@endpoint_ids</c> are due now, but not the
    /// ones queued behind an earlier delivery of their ordering key. Enabling closes the circuit first, so nothing stays held.
    /// Deliveries blocked by a failed transformation stay blocked.
    /// </summary>
    public const string Unpark = """
        UPDATE deliveries d
        SET next_attempt_at = now(), held_due_at = NULL, updated_at = now()
        FROM endpoints e
        WHERE e.id = ANY(@endpoint_ids) AND NOT e.disabled AND d.endpoint_id = e.id
          AND d.status IN ('pending', 'failed') AND d.next_attempt_at IS NULL AND NOT d.transformation_blocked AND NOT d.queued
        """;

    /// <summary>
    /// Unblock: the endpoints among <c>@endpoint_ids</c> have a new transformation or format, so their deliveries blocked by
    /// the old one's failure are due now (parked while disabled, held while the circuit is open).
    /// </summary>
    public static readonly string Unblock = $"""
        UPDATE deliveries d
        SET transformation_blocked = false, {DueAt("e", "d", "now()")}, updated_at = now()
        FROM endpoints e
        WHERE e.id = ANY(@endpoint_ids) AND d.endpoint_id = e.id AND d.transformation_blocked AND d.status IN ('pending', 'failed')
          AND NOT d.queued
        """;

    // ---- The circuit breaker's transitions. The worker's record transaction decides open, re-open and close
    // (DeliveryStore's health statement); these move the deliveries accordingly. ----

    /// <summary>
    /// Hold: the waiting deliveries of the endpoints among <c>@endpoint_ids</c> whose circuit opened in this transaction
    /// stop being due, each remembering when it was due (<c>held_due_at</c>). In-flight ones finish; their retries are held
    /// by <see cref="Record"/>. Written as a join, like <see cref="Park"/>: with no endpoint opened the join ends before
    /// reading any delivery (an <c>ANY(ARRAY(…))</c> form had the planner walk the whole due index instead). Unless the
    /// planner, with the statistics of a burst just published (1 due row estimated, 16,000 there), starts from the due
    /// index: so the uncorrelated <c>EXISTS</c>, evaluated once before anything (a one-time filter), ends it when no
    /// endpoint qualifies, whatever the plan (Park: 354 ms a record batch without it, measured).
    /// </summary>
    public const string Hold = """
        UPDATE deliveries d
        SET held_due_at = d.next_attempt_at, next_attempt_at = NULL, updated_at = now()
        FROM endpoints e
        WHERE e.id = ANY(@endpoint_ids) AND e.circuit_opened_at = now() AND d.endpoint_id = e.id
          AND d.status IN ('pending', 'failed') AND d.next_attempt_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM endpoints x WHERE x.id = ANY(@endpoint_ids) AND x.circuit_opened_at = now())
        """;

    /// <summary>
    /// Resume: the held deliveries of the endpoints among <c>@endpoint_ids</c> whose circuit is closed are due when they
    /// were due before (at once, for most), so the backlog flows without bringing any retry forward; parked instead if the
    /// endpoint is disabled. The endpoints are picked first, so only their held rows are read (<c>ix_deliveries_held</c>),
    /// never another endpoint's backlog: cheap enough for every recorded batch.
    /// </summary>
    public const string Resume = """
        UPDATE deliveries d
        SET next_attempt_at = CASE WHEN (SELECT disabled FROM endpoints WHERE id = d.endpoint_id) THEN NULL ELSE d.held_due_at END,
            held_due_at = NULL, updated_at = now()
        WHERE d.endpoint_id = ANY(ARRAY(SELECT id FROM endpoints WHERE id = ANY(@endpoint_ids) AND circuit_opened_at IS NULL))
          AND d.held_due_at IS NOT NULL AND d.status IN ('pending', 'failed')
        """;

    /// <summary>
    /// Probe (half-open): for up to <c>@limit</c> open circuits whose cool-down has passed and that have no probe out, the
    /// held delivery that has been due longest becomes due now and is named the endpoint's probe, so exactly one delivery
    /// goes, whichever worker claims it. Decided on the database's clock, under the endpoint's row lock (the record
    /// transaction's lock order: endpoint, then delivery); a circuit whose held deliveries are none of them due yet waits
    /// for the first. Returns the endpoints probed.
    /// </summary>
    public const string Probe = """
        WITH ready AS (
            SELECT e.id FROM endpoints e
            WHERE e.circuit_retry_at <= now() AND e.circuit_probe_id IS NULL AND NOT e.disabled
            ORDER BY e.circuit_retry_at
            LIMIT @limit
            FOR NO KEY UPDATE SKIP LOCKED
        ), chosen AS (
            SELECT r.id AS endpoint_id, p.id
            FROM ready r
            CROSS JOIN LATERAL (
                SELECT d.id FROM deliveries d
                WHERE d.endpoint_id = r.id AND d.held_due_at <= now() AND d.status IN ('pending', 'failed')
                ORDER BY d.held_due_at
                LIMIT 1
            ) p
        ), due AS (
            -- By primary key only: a test of held_due_at here lets the planner read every held row instead.
            UPDATE deliveries d
            SET next_attempt_at = now(), held_due_at = NULL, updated_at = now()
            FROM chosen c
            WHERE d.id = c.id AND d.status IN ('pending', 'failed')
            RETURNING d.id, d.endpoint_id
        )
        UPDATE endpoints e
        SET circuit_probe_id = due.id
        FROM due
        WHERE e.id = due.endpoint_id
        RETURNING e.id
        """;

    /// <summary>
    /// A probe settled without telling anything about the endpoint (an attempt lost with its worker, a bug of ours, a
    /// test): the circuit stays as it is and the next probe may go. The probe's own retry is then held like the rest.
    /// </summary>
    public const string ProbeSettled = """
        UPDATE endpoints SET circuit_probe_id = NULL WHERE circuit_probe_id = ANY(@delivery_ids)
        """;

    /// <summary>Cancel: the waiting deliveries to the endpoints among <c>@endpoint_ids</c> (being deleted) will never be attempted.</summary>
    public const string Cancel = """
        UPDATE deliveries d
        SET status = 'cancelled', next_attempt_at = NULL, held_due_at = NULL, updated_at = now()
        WHERE d.endpoint_id = ANY(@endpoint_ids) AND d.status IN ('pending', 'failed')
        """;

    /// <summary>
    /// Requeues the deliveries to <c>@endpoint_id</c> that <paramref name="which"/> picks: due now, parked while the
    /// endpoint is disabled, held while its circuit is open. On a <c>fifo</c> endpoint a finished delivery goes to the back
    /// of its key's queue (new sequence numbers, in their old order; due now only if the key has nothing unfinished), a
    /// waiting one keeps its place (due now if it is its key's head, still queued otherwise), so requeueing never lets a
    /// delivery overtake an earlier one of its key. On an endpoint that is not <c>fifo</c> (any more) a requeued delivery
    /// leaves any sequence it had: it goes unordered. The caller locks the endpoint first (<see cref="LockEndpoints"/>), the
    /// recorder's order.
    /// </summary>
    private static string Requeue(string which) => $"""
        WITH picked AS (
            SELECT d.id, coalesce(m.ordering_key, '') AS ordering_key, d.ordering_seq, e.ordering = 'fifo' AS fifo,
                   e.ordering = 'fifo' AND d.status IN ('succeeded', 'exhausted', 'cancelled') AS to_back
            FROM deliveries d
            JOIN endpoints e ON e.id = d.endpoint_id AND e.id = @endpoint_id AND e.deleted_at IS NULL
            JOIN messages m ON m.id = d.message_id
            WHERE d.endpoint_id = @endpoint_id AND {which}
        ), keys AS (
            SELECT @endpoint_id AS endpoint_id, ordering_key, count(*) AS n FROM picked WHERE to_back GROUP BY ordering_key
        ), heads AS (
            {TakeSequence("keys", "endpoint_id")}
        ), placed AS (
            SELECT p.id, p.fifo, p.ordering_key, s.seq, coalesce(s.seq <> s.active_seq, d.queued AND NOT p.to_back AND p.fifo) AS queued
            FROM picked p
            JOIN deliveries d ON d.id = p.id
            LEFT JOIN (
                SELECT p2.id, h.active_seq, h.next_seq - k.n + row_number() OVER (PARTITION BY p2.ordering_key ORDER BY p2.ordering_seq NULLS FIRST, p2.id) AS seq
                FROM picked p2
                JOIN keys k ON k.ordering_key = p2.ordering_key
                JOIN heads h ON h.ordering_key = p2.ordering_key
                WHERE p2.to_back
            ) s ON s.id = p.id
        )
        UPDATE deliveries d
        SET status = 'pending', trigger = 'manual', transformation_blocked = false,
            ordering_key = CASE WHEN NOT pl.fifo THEN NULL WHEN pl.seq IS NULL THEN d.ordering_key ELSE pl.ordering_key END,
            ordering_seq = CASE WHEN pl.fifo THEN coalesce(pl.seq, d.ordering_seq) END, queued = pl.queued,
            next_attempt_at = CASE WHEN pl.queued OR e.disabled OR {HeldByCircuit("e", "d")} THEN NULL ELSE now() END,
            held_due_at = CASE WHEN {HeldByCircuit("e", "d")} AND NOT pl.queued THEN now() END,
            lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        FROM placed pl, endpoints e
        WHERE d.id = pl.id AND e.id = d.endpoint_id
        """;

    /// <summary>
    /// Resend: one delivery (<c>@message_id</c> to <c>@endpoint_id</c>), in any state but in flight, is requeued (see
    /// <see cref="Requeue"/>). Resend and recover are the manual override of a transformation block.
    /// </summary>
    public static readonly string Resend = Requeue("d.message_id = @message_id AND d.status <> 'in_flight'");

    /// <summary>
    /// Recover: every failed or exhausted delivery to <c>@endpoint_id</c> created since <c>@since</c> (and before <c>@until</c>,
    /// unless null) is requeued (see <see cref="Requeue"/>).
    /// </summary>
    public static readonly string Recover =
        Requeue("d.created_at >= @since AND (@until::timestamptz IS NULL OR d.created_at < @until) AND d.status IN ('failed', 'exhausted')");

    // ---- Ordered delivery (fifo endpoints). A key's deliveries carry sequence numbers (FanOut); only its head, the
    // lowest unfinished one (ordering_heads.active_seq), is ever due; the others are queued (not due, next_attempt_at NULL,
    // and every transition that makes deliveries due leaves them alone). The transaction that finishes the head promotes
    // the next one. ----

    /// <summary>
    /// Locks the ordering heads of the keys whose deliveries among <c>@id</c> just finished, in (endpoint, key) order, after
    /// the endpoints and deliveries (the record transaction's order). A separate statement from <see cref="PromoteNext"/>,
    /// so that one reads, with a snapshot taken after the lock, every delivery a publish holding it has committed.
    /// </summary>
    public static readonly string LockOrderingHeads = $"""
        SELECT 1 FROM ordering_heads h
        WHERE (h.endpoint_id, h.ordering_key) IN ({FinishedKeys})
        ORDER BY h.endpoint_id, h.ordering_key
        FOR NO KEY UPDATE OF h
        """;

    private const string FinishedKeys = """
        SELECT d.endpoint_id, d.ordering_key FROM deliveries d
        WHERE d.id = ANY(@id) AND d.ordering_seq IS NOT NULL AND d.status IN ('succeeded', 'exhausted', 'cancelled')
        """;

    /// <summary>
    /// Promote: for each key whose deliveries among <c>@id</c> finished (succeeded, exhausted), its lowest unfinished
    /// delivery becomes its head (<c>active_seq</c>; none: NULL, so the next publish goes at once) and, if it was queued, is
    /// due now (parked while the endpoint is disabled, held while its circuit is open). Idempotent: a key whose head is
    /// still unfinished keeps it.
    /// </summary>
    public static readonly string PromoteNext = $"""
        WITH keys AS (
            SELECT DISTINCT f.endpoint_id, f.ordering_key FROM ({FinishedKeys}) f
        ), next AS (
            SELECT k.endpoint_id, k.ordering_key, n.id, n.ordering_seq, n.queued
            FROM keys k
            LEFT JOIN LATERAL (
                SELECT d.id, d.ordering_seq, d.queued FROM deliveries d
                WHERE d.endpoint_id = k.endpoint_id AND d.ordering_key = k.ordering_key AND d.ordering_seq IS NOT NULL AND {Unfinished("d")}
                ORDER BY d.ordering_seq
                LIMIT 1
            ) n ON true
        ), heads AS (
            UPDATE ordering_heads h SET active_seq = n.ordering_seq
            FROM next n
            WHERE h.endpoint_id = n.endpoint_id AND h.ordering_key = n.ordering_key
        )
        UPDATE deliveries d
        SET queued = false, {DueAt("e", "d", "now()")}, updated_at = now()
        FROM next n, endpoints e
        WHERE d.id = n.id AND n.queued AND e.id = d.endpoint_id
        """;

    /// <summary>
    /// Up to <c>@batch</c> ordering heads of keys with nothing unfinished (<c>active_seq</c> NULL) go, so keys used once do
    /// not pile up; the next publish to such a key starts its sequence again (only unfinished deliveries' sequence numbers
    /// matter). The test of <c>active_seq</c> is repeated on the row being deleted: a publish that took the key meanwhile
    /// (and holds its row) keeps it.
    /// </summary>
    public const string ForgetIdleOrderingHeads = """
        DELETE FROM ordering_heads h
        WHERE h.active_seq IS NULL
          AND (h.endpoint_id, h.ordering_key) IN (SELECT endpoint_id, ordering_key FROM ordering_heads WHERE active_seq IS NULL LIMIT @batch)
        """;

    /// <summary>
    /// Locks the ordering heads of the endpoints among <c>@endpoint_ids</c>, in order, before <see cref="Unorder"/> runs in a
    /// statement of its own: a publish that still saw the endpoint as <c>fifo</c> and holds a head row commits first, so
    /// <see cref="Unorder"/>'s snapshot includes the deliveries it queued and releases them too (else its head row would be
    /// deleted under them, and nothing would ever make them due). A later publish waits for this transaction and, its head
    /// row gone, starts a new sequence whose first delivery is due.
    /// </summary>
    public const string LockEndpointOrderingHeads = """
        SELECT 1 FROM ordering_heads h WHERE h.endpoint_id = ANY(@endpoint_ids) ORDER BY h.endpoint_id, h.ordering_key FOR UPDATE OF h
        """;

    /// <summary>
    /// Unorder: the endpoints among <c>@endpoint_ids</c> stopped being <c>fifo</c>: their queued deliveries are due now
    /// (parked while disabled, held while the circuit is open), every unfinished one forgets its sequence, and their
    /// ordering heads go. Run under the endpoint's row lock (its update), so no record of theirs interleaves.
    /// </summary>
    public static readonly string Unorder = $"""
        WITH released AS (
            UPDATE deliveries d
            SET queued = false, ordering_key = NULL, ordering_seq = NULL,
                next_attempt_at = CASE WHEN NOT d.queued THEN d.next_attempt_at WHEN e.disabled OR {HeldByCircuit("e", "d")} THEN NULL ELSE now() END,
                held_due_at = CASE WHEN NOT d.queued THEN d.held_due_at WHEN {HeldByCircuit("e", "d")} THEN now() END,
                updated_at = now()
            FROM endpoints e
            WHERE e.id = ANY(@endpoint_ids) AND e.ordering <> 'fifo' AND d.endpoint_id = e.id
              AND d.ordering_seq IS NOT NULL AND {Unfinished("d")}
            RETURNING 1
        )
        DELETE FROM ordering_heads h USING endpoints e
        WHERE h.endpoint_id = e.id AND e.id = ANY(@endpoint_ids) AND e.ordering <> 'fifo'
        """;
}
