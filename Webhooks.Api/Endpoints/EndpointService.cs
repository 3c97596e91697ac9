using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Endpoints;

/// <summary>What can be done to an endpoint, for the API and the dashboard alike; callers validate the input first.</summary>
public sealed class EndpointService(
    WebhooksDbContext db, MessagePublisher publisher, PayloadSchemas schemas, DispatchSignal signal, SecretProtector secrets, TimeProvider time,
    IConfiguration configuration)
{
    /// <summary>The new endpoint, or the errors of its <c>auth</c> (a secret missing).</summary>
    /// <param name="uid">The endpoint's uid (unique in the application; a taken one fails the save with a unique violation).</param>
    public async Task<(Endpoint? Endpoint, Dictionary<string, string[]>? Errors)> CreateAsync(Application application, EndpointIn input, CancellationToken ct,
        string? uid = null)
    {
        var auth = EndpointAuthRules.Resolve(input.Auth, input.Url, null, null);
        if (auth.Errors is not null)
        {
            return (null, auth.Errors);
        }
        var secret = input.Secret is null ? WebhookSecret.Generate() : WebhookSecret.Parse(input.Secret);
        var now = time.GetUtcNow();
        var endpoint = new Endpoint(application.Id, input.Url, secrets.Protect(secret.ToString()), now) { Uid = uid };
        Configure(endpoint, input, now);
        endpoint.SetTransformation(TransformationOf(input), input.Format, now);
        SetAuth(endpoint, auth.Auth, now);
        db.Endpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        return (endpoint, null);
    }

    /// <summary>Replaces the endpoint's settings; null, or the errors of its <c>auth</c> (nothing is changed then).</summary>
    public async Task<Dictionary<string, string[]>?> UpdateAsync(Endpoint endpoint, IEndpointSettings input, CancellationToken ct)
    {
        var auth = EndpointAuthRules.Resolve(input.Auth, input.Url, AuthOf(endpoint), endpoint.Url);
        if (auth.Errors is not null)
        {
            return auth.Errors;
        }
        var now = time.GetUtcNow();
        var ordering = endpoint.Ordering;
        Configure(endpoint, input, now);
        var transformationChanged = endpoint.SetTransformation(TransformationOf(input), input.Format, now);
        SetAuth(endpoint, auth.Auth, now);
        // A new script or format may send what the old one failed on: those deliveries go again, in this transaction.
        await db.SaveSettingsAsync(endpoint, ordering, transformationChanged, ct);
        if (transformationChanged || ordering != endpoint.Ordering)
        {
            await signal.NotifyAsync();
        }
        return null;
    }

    /// <summary>
    /// Changes what Svix's surface knows of an endpoint — URL, description, event types, channels, rate, metadata, custom
    /// headers — and keeps everything else (authentication, filter, transformation, retries, ordering, circuit). Callers
    /// validate first and refuse a move to another origin while the endpoint has credentials.
    /// </summary>
    public async Task ConfigureBasicsAsync(Endpoint endpoint, string url, string? description, IEnumerable<string>? eventTypes,
        IEnumerable<string>? channels, int? rateLimitPerSecond, IReadOnlyDictionary<string, string> metadata, IReadOnlyDictionary<string, string> headers,
        CancellationToken ct)
    {
        endpoint.Configure(url, description, eventTypes, channels, rateLimitPerSecond, endpoint.TimeoutSeconds, headers, metadata,
            endpoint.RetrySchedule, endpoint.CircuitBreakerThreshold, time.GetUtcNow(), endpoint.MaxInFlight, endpoint.Ordering);
        await db.SaveSettingsAsync(endpoint, endpoint.Ordering, transformationChanged: false, ct);
    }

    /// <summary>The transformation as stored: an empty one is none.</summary>
    private static string? TransformationOf(IEndpointSettings input) => string.IsNullOrWhiteSpace(input.Transformation) ? null : input.Transformation;

    /// <summary>The endpoint's stored credentials, decrypted (for deciding what an update keeps; never returned).</summary>
    public EndpointAuth? AuthOf(Endpoint endpoint) => endpoint.Auth is null ? null : EndpointAuth.FromJson(secrets.Unprotect(endpoint.Auth));

    private void SetAuth(Endpoint endpoint, EndpointAuth? auth, DateTimeOffset now)
    {
        if (auth is null)
        {
            endpoint.SetAuth(null, null, now);
            return;
        }
        endpoint.SetAuth(secrets.Protect(auth.ToJson()), EndpointAuthRules.Summary(auth), now);
    }

    private static void Configure(Endpoint endpoint, IEndpointSettings input, DateTimeOffset now)
    {
        endpoint.Configure(input.Url, input.Description, input.EventTypes, input.Channels, input.RateLimitPerSecond, input.TimeoutSeconds,
            input.Headers, input.Metadata, input.RetrySchedule, input.CircuitBreakerThreshold, now, input.MaxInFlight,
            input.Ordering == OrderingModes.Fifo ? DeliveryOrdering.Fifo : DeliveryOrdering.None);
        // Validated before: a filter given parses.
        endpoint.SetFilter(FilterRules.Parse(input.Filter).Filter, now);
    }

    /// <summary>Disables the endpoint (its waiting deliveries parked); an endpoint already disabled keeps its reason.</summary>
    public async Task DisableAsync(Endpoint endpoint, string reason, CancellationToken ct)
    {
        if (!endpoint.Disabled)
        {
            await db.DisableAsync(endpoint, reason, time.GetUtcNow(), ct);
        }
    }

    /// <summary>Enables the endpoint and wakes the workers: its parked deliveries are due now.</summary>
    public async Task EnableAsync(Endpoint endpoint, CancellationToken ct)
    {
        await db.EnableAsync(endpoint, time.GetUtcNow(), ct);
        await signal.NotifyAsync();
    }

    /// <param name="overlap">How long the old secret keeps signing; null: <c>Webhooks:SecretRotationOverlapHours</c> (24 h).</param>
    public async Task<EndpointSecretOut> RotateSecretAsync(Endpoint endpoint, string? key, CancellationToken ct, TimeSpan? overlap = null)
    {
        var now = time.GetUtcNow();
        var secret = key is null ? WebhookSecret.Generate() : WebhookSecret.Parse(key);
        endpoint.RotateSecret(secrets.Protect(secret.ToString()),
            overlap ?? TimeSpan.FromHours(configuration.GetValue("Webhooks:SecretRotationOverlapHours", 24.0)), now);
        await db.SaveChangesAsync(ct);
        return SecretOf(endpoint);
    }

    /// <summary>The endpoint's signing secrets in plain text (they are stored encrypted).</summary>
    public EndpointSecretOut SecretOf(Endpoint endpoint) =>
        endpoint.PreviousSecretExpiresAt > time.GetUtcNow()
            ? new EndpointSecretOut(secrets.Unprotect(endpoint.Secret), secrets.UnprotectOrNull(endpoint.PreviousSecret), endpoint.PreviousSecretExpiresAt)
            : new EndpointSecretOut(secrets.Unprotect(endpoint.Secret), null, null);

    /// <summary>
    /// Re-queues every failed or exhausted delivery created since <paramref name="since"/> (and before <paramref name="until"/>,
    /// if given), parked while the endpoint is disabled.
    /// </summary>
    public async Task<int> RecoverAsync(Endpoint endpoint, DateTimeOffset since, CancellationToken ct, DateTimeOffset? until = null)
    {
        var requeued = await db.RequeueAsync(DeliveryLifecycle.Recover, endpoint.Id,
            [
                new Npgsql.NpgsqlParameter("since", since.ToUniversalTime()),
                new Npgsql.NpgsqlParameter("until", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = until is { } u ? u.ToUniversalTime() : DBNull.Value },
            ], ct);
        await signal.NotifyAsync();
        return requeued;
    }

    public sealed record TestResult(IDictionary<string, string[]>? Rejected, EndpointTestOut? Sent);

    /// <summary>
    /// Publishes an event of the chosen type to this endpoint alone and waits (up to its timeout and a margin) for the
    /// worker's attempt, so the test goes through the same signing, rate limit and log as any delivery. Says whether the
    /// payload passes the endpoint's filter, decided by Postgres with the fan-out's rule; the test is sent either way.
    /// </summary>
    public async Task<TestResult> TestAsync(Application application, Endpoint endpoint, EndpointTestIn input, CancellationToken ct)
    {
        var schema = await db.EventTypes.AsNoTracking()
            .Where(t => t.ApplicationId == application.Id && t.Name == input.EventType)
            .Select(t => t.Schema)
            .FirstOrDefaultAsync(ct);
        var payload = input.Payload is { ValueKind: JsonValueKind.Object } given
            ? given
            : PayloadSchemas.ExampleOf(schema) ?? JsonSerializer.SerializeToElement(new { type = input.EventType, test = true, sentAt = time.GetUtcNow() });
        var rejected = await schemas.CheckAsync(db, application.Id, [(input.EventType, payload)], _ => "", ct);
        if (rejected.Count > 0)
        {
            return new TestResult(rejected, null);
        }
        var filterMatched = await PassesFilterAsync(endpoint, payload, ct);
        var delivery = await publisher.PublishTestAsync(application, endpoint, input.EventType, payload, ct);
        var deadline = time.GetUtcNow().AddSeconds(endpoint.TimeoutSeconds + 5);
        while (time.GetUtcNow() < deadline)
        {
            var attempt = await db.DeliveryAttempts.AsNoTracking().Where(a => a.DeliveryId == delivery.Id).OrderBy(a => a.Id).FirstOrDefaultAsync(ct);
            if (attempt is not null)
            {
                return new TestResult(null, new EndpointTestOut(delivery.MessageId, attempt.ToOut(), filterMatched));
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
        }
        return new TestResult(null, new EndpointTestOut(delivery.MessageId, null, filterMatched));
    }

    private static readonly string PassesFilterSql =
        $"SELECT {DeliveryLifecycle.PassesFilter("e", "@payload::jsonb")} AS \"Value\" FROM endpoints e WHERE e.id = @endpoint_id";

    /// <summary>Whether <paramref name="payload"/> passes the endpoint's stored filter (null: it has none), in one query.</summary>
    public async Task<bool?> PassesFilterAsync(Endpoint endpoint, JsonElement payload, CancellationToken ct)
    {
        if (endpoint.FilterPath is null)
        {
            return null;
        }
        return await db.Database.SqlQueryRaw<bool>(PassesFilterSql,
                new Npgsql.NpgsqlParameter("payload", payload.GetRawText()), new Npgsql.NpgsqlParameter("endpoint_id", endpoint.Id))
            .SingleAsync(ct);
    }

    /// <summary>Attempts over 24 h and 7 d, the last failure, and how many deliveries wait (counted up to 100,000).</summary>
    public async Task<EndpointStatsOut> StatsAsync(Endpoint endpoint, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var day = now.AddDays(-1);
        var weekStart = Ids.LowerBound(Ids.Attempt, now.AddDays(-7));
        var week = db.DeliveryAttempts.AsNoTracking().Where(a => a.EndpointId == endpoint.Id && string.Compare(a.Id, weekStart) >= 0);
        var counts = await week
            .GroupBy(a => 1)
            .Select(g => new
            {
                Week = g.LongCount(),
                WeekOk = g.LongCount(a => a.Succeeded),
                Day = g.LongCount(a => a.StartedAt >= day),
                DayOk = g.LongCount(a => a.Succeeded && a.StartedAt >= day),
            })
            .FirstOrDefaultAsync(ct);
        var lastFailure = await week.Where(a => !a.Succeeded).OrderByDescending(a => a.Id)
            .Select(a => new LastFailureOut(a.Id, a.MessageId, a.StartedAt, a.ResponseStatus, a.ErrorKind, a.ErrorMessage))
            .FirstOrDefaultAsync(ct);
        var pending = await db.Deliveries
            .Where(d => d.EndpointId == endpoint.Id &&
                        (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.Failed || d.Status == DeliveryStatus.InFlight))
            .Take(100_000)
            .LongCountAsync(ct);
        return new EndpointStatsOut(
            Window(counts?.Day ?? 0, counts?.DayOk ?? 0),
            Window(counts?.Week ?? 0, counts?.WeekOk ?? 0),
            lastFailure,
            pending);
    }

    private static StatsWindowOut Window(long attempts, long succeeded) =>
        new(attempts, succeeded, attempts - succeeded, attempts == 0 ? null : Math.Round((double)succeeded / attempts, 4));
}
