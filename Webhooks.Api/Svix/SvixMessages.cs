using System.Text;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Applications;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.Messages;
using Webhooks.Core;
using Webhooks.Core.Data;

namespace Webhooks.Api.Svix;

/// <summary>
/// Svix's messages and attempts. A message created here is <see cref="Message.Raw"/>: delivered as Svix delivers it, its
/// payload's bytes as the body, with <c>svix-*</c> headers besides the Standard Webhooks ones, through the same
/// fan-out, filters, retries and attempt log as every message.
/// </summary>
public static class SvixMessages
{
    private static readonly JsonElement Empty = JsonDocument.Parse("{}").RootElement;

    public static void Map(RouteGroupBuilder app)
    {
        // Creates the application from the body's 'application' when the path names none (as Svix does).
        app.MapPost("/msg", CreateAsync).WithMetadata(CachedTenant.Instance, TenantMayBeCreated.Instance);
        app.MapGet("/msg", ListAsync);
        app.MapGet("/msg/{msgId}", GetAsync);
        app.MapGet("/msg/{msgId}/attempt/{attemptId}", GetAttemptAsync);
        app.MapPost("/msg/{msgId}/endpoint/{endpointId}/resend", ResendAsync);
        app.MapGet("/attempt/endpoint/{endpointId}", ListByEndpointAsync);
        app.MapGet("/attempt/msg/{msgId}", ListByMessageAsync);
    }

    internal static SvixMessageOut ToSvix(this Message m, bool withContent, JsonElement? payload = null)
    {
        if (!withContent)
        {
            return new SvixMessageOut(m.Id, m.EventId, m.EventType, Empty, m.Channels.Length == 0 ? null : m.Channels, m.CreatedAt);
        }
        using var parsed = payload is null ? JsonDocument.Parse(m.Payload) : null;
        return new SvixMessageOut(m.Id, m.EventId, m.EventType, payload ?? parsed!.RootElement.Clone(), m.Channels.Length == 0 ? null : m.Channels, m.CreatedAt);
    }

    internal static SvixAttemptOut ToSvix(this DeliveryAttempt a, bool withContent) => new(
        a.Id, a.MessageId, a.EndpointId, a.Url,
        withContent ? a.ResponseBody ?? a.ErrorMessage ?? "" : "{}",
        a.ResponseStatus ?? 0, a.DurationMs,
        a.Succeeded ? 0 : 2, a.Succeeded ? "success" : "fail",
        a.Trigger == AttemptTrigger.Scheduled ? 0 : 1,
        a.StartedAt);

    private static Dictionary<string, string[]>? Check(SvixMessageIn input, int maxBodyBytes)
    {
        var errors = RequestShape.Problems(input);
        void Add(string field, string message) => errors[field] = [message];
        if (!SvixChecks.IsUid(input.EventType))
        {
            Add("eventType", "'eventType' must be 1 to 256 letters, digits, '-', '_' or '.'.");
        }
        if (input.Payload.ValueKind != JsonValueKind.Object)
        {
            Add("payload", "'payload' must be a JSON object.");
        }
        else if (Encoding.UTF8.GetByteCount(input.Payload.GetRawText()) > maxBodyBytes)
        {
            Add("payload", $"'payload' must be at most {maxBodyBytes} bytes (UTF-8).");
        }
        else if (!StorableJson.IsStorable(input.Payload))
        {
            Add("payload", $"'payload' {StorableJson.Rule}.");
        }
        if (input.EventId is not null && (!SvixChecks.IsUid(input.EventId) || input.EventId.StartsWith("msg_", StringComparison.Ordinal)))
        {
            Add("eventId", "'eventId' must be 1 to 256 letters, digits, '-', '_' or '.', and must not start with 'msg_'.");
        }
        if (input.Channels is { } channels &&
            (channels.Count is 0 or > 5 || channels.Any(c => c is null || c.Length > ChannelRules.MaxLength || !System.Text.RegularExpressions.Regex.IsMatch(c, ChannelRules.Pattern))))
        {
            Add("channels", $"'channels' must be 1 to 5 names of letters, digits, '_', '.', ':' or '-', up to {ChannelRules.MaxLength} characters each.");
        }
        if (input.PayloadRetentionPeriod is < 1 or > 90)
        {
            Add("payloadRetentionPeriod", "'payloadRetentionPeriod' must be 1 to 90 (days); this server keeps messages for its retention period.");
        }
        if (input.DeliverAt is not null)
        {
            Add("deliverAt", "Scheduled delivery ('deliverAt') is not supported by this server: create the message when it should go.");
        }
        if (input.TransformationsParams is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            Add("transformationsParams", "'transformationsParams' is not supported by this server: give the endpoint a transformation instead.");
        }
        return errors.Count == 0 ? null : errors;
    }

    private static async Task<IResult> CreateAsync(
        Tenant tenant, SvixMessageIn input, [FromQuery(Name = "with_content")] bool? withContent,
        [FromHeader(Name = SvixIdempotency.Header)] string? idempotencyKey, MessagePublisher publisher, PayloadSchemas schemas,
        WebhooksDbContext db, ApplicationService applications, IValidator<Client.ApplicationIn> applicationValidator, IOptions<PublishOptions> options,
        CancellationToken ct)
    {
        if (Check(input, options.Value.MaxBodyBytes) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var (application, refused) = await SvixApplications.FindOrCreateAsync(tenant, input.Application, applications, applicationValidator, db, ct);
        if (application is null)
        {
            return refused!;
        }
        var rejected = await schemas.CheckAsync(db, application.Id, [(input.EventType, input.Payload)], _ => "", ct);
        if (rejected.Count > 0)
        {
            return Problems.Rejected(rejected);
        }
        // The request's idempotency key goes with the message too: a first try whose answer was cut off (a deadline, a
        // dropped connection) may have committed, and its retry must find that message rather than publish again.
        var published = await publisher.PublishRawAsync(application, input.EventType, input.Payload, input.Channels, input.EventId,
            string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey, ct);
        if (published is null)
        {
            return SvixLookup.Conflict($"A message with eventId '{input.EventId}' exists in this application.");
        }
        return TypedResults.Accepted($"/api/v1/app/{application.Id}/msg/{published.Message.Id}",
            published.Message.ToSvix(withContent ?? true, published.Payload));
    }

    private static bool IsIterator(string? iterator, string prefix) => iterator is null || Ids.IsValid(iterator.TrimStart('-'), prefix);

    private static async Task<IResult> ListAsync(
        Tenant tenant, int? limit, string? iterator, string? channel, DateTimeOffset? before, DateTimeOffset? after,
        [FromQuery(Name = "with_content")] bool? withContent, HttpContext http, WebhooksDbContext db, CancellationToken ct)
    {
        if (ListProblems(limit, iterator, Ids.Message, before, after) is { } invalid)
        {
            return invalid;
        }
        var messages = db.Messages.AsNoTracking().Where(m => m.ApplicationId == tenant.Application.Id);
        if (EventTypesOf(http) is { } types)
        {
            messages = messages.Where(m => types.Contains(m.EventType));
        }
        if (channel is not null)
        {
            messages = messages.Where(m => m.Channels.Contains(channel));
        }
        // Ids start with their creation time: the time bounds are id bounds too, on the (application_id, id) index.
        if (before is { } b)
        {
            var bound = TimeFilter.IdsBefore(Ids.Message, b);
            b = TimeFilter.Utc(b);
            messages = messages.Where(m => string.Compare(m.Id, bound) < 0 && m.CreatedAt < b);
        }
        if (after is { } a)
        {
            var bound = TimeFilter.IdsFrom(Ids.Message, a);
            a = TimeFilter.Utc(a);
            messages = messages.Where(m => string.Compare(m.Id, bound) >= 0 && m.CreatedAt > a);
        }
        var content = withContent ?? true;
        return TypedResults.Ok(await SvixPaging.PageAsync(messages, m => m.Id, descending: true, iterator, limit, m => m.ToSvix(content), ct));
    }

    private static ValidationProblem? ListProblems(int? limit, string? iterator, string prefix, DateTimeOffset? before, DateTimeOffset? after)
    {
        if (limit is < 1 or > Paging.MaxLimit)
        {
            return SvixChecks.Invalid("limit", $"'limit' must be 1 to {Paging.MaxLimit}.");
        }
        if (!IsIterator(iterator, prefix))
        {
            return SvixChecks.Invalid("iterator", "'iterator' must be the iterator of a previous page.");
        }
        if (before is not null && after is not null && before <= after)
        {
            return SvixChecks.Invalid("before", "'before' must be later than 'after'.");
        }
        return null;
    }

    /// <summary>Svix's <c>event_types</c> filter: comma-separated, repeated, or as <c>event_types[]</c>.</summary>
    private static string[]? EventTypesOf(HttpContext http)
    {
        var query = http.Request.Query;
        var values = SvixChecks.ListOf(Microsoft.Extensions.Primitives.StringValues.Concat(query["event_types"], query["event_types[]"]));
        return values is { Length: > 0 } ? values : null;
    }

    private static async Task<IResult> GetAsync(
        Tenant tenant, string msgId, [FromQuery(Name = "with_content")] bool? withContent, WebhooksDbContext db, CancellationToken ct) =>
        await db.FindMessageAsync(tenant.Application, msgId, ct) is { } message
            ? TypedResults.Ok(message.ToSvix(withContent ?? true))
            : SvixLookup.NotFound("Message");

    private static async Task<IResult> GetAttemptAsync(Tenant tenant, string msgId, string attemptId, WebhooksDbContext db, CancellationToken ct)
    {
        var message = await db.FindMessageAsync(tenant.Application, msgId, ct);
        var attempt = message is null
            ? null
            : await db.DeliveryAttempts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == attemptId && a.MessageId == message.Id, ct);
        return attempt is null ? SvixLookup.NotFound("Message attempt") : TypedResults.Ok(attempt.ToSvix(withContent: true));
    }

    /// <summary>
    /// Sends the message to the endpoint again, now, as a manual attempt: its delivery requeued, or, if the message never
    /// went there (its filters left it out), a new one. 202 with Svix's empty object.
    /// </summary>
    private static async Task<IResult> ResendAsync(
        Tenant tenant, string msgId, string endpointId, WebhooksDbContext db, MessagePublisher publisher, CancellationToken ct)
    {
        var message = await db.FindMessageAsync(tenant.Application, msgId, ct);
        if (message is null)
        {
            return SvixLookup.NotFound("Message");
        }
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        for (var tries = 0; tries < 2; tries++)
        {
            var (outcome, _) = await publisher.ResendAsync(tenant.Application, message.Id, endpoint.Id, ct);
            if (outcome == MessagePublisher.ResendOutcome.Requeued)
            {
                return TypedResults.Accepted((string?)null, new SvixEmpty());
            }
            if (outcome == MessagePublisher.ResendOutcome.InFlight)
            {
                return SvixLookup.Conflict("The message is being sent to this endpoint right now; resend it once that attempt is recorded.");
            }
            if (await publisher.DeliverToAsync(message, endpoint, ct))
            {
                return TypedResults.Accepted((string?)null, new SvixEmpty());
            }
            // A delivery appeared meanwhile (a concurrent resend): requeue that one.
        }
        return SvixLookup.Conflict("The message is being sent to this endpoint right now.");
    }

    private static Task<IResult> ListByEndpointAsync(
        Tenant tenant, string endpointId, int? limit, string? iterator, int? status, [FromQuery(Name = "status_code_class")] int? statusCodeClass,
        string? channel, DateTimeOffset? before, DateTimeOffset? after, [FromQuery(Name = "with_content")] bool? withContent, HttpContext http,
        WebhooksDbContext db, CancellationToken ct) =>
        ListAttemptsAsync(tenant, endpointId, msgId: null, endpointFilter: null, limit, iterator, status, statusCodeClass, channel, before, after, withContent, http, db, ct);

    private static Task<IResult> ListByMessageAsync(
        Tenant tenant, string msgId, int? limit, string? iterator, int? status, [FromQuery(Name = "status_code_class")] int? statusCodeClass,
        string? channel, DateTimeOffset? before, DateTimeOffset? after, [FromQuery(Name = "with_content")] bool? withContent,
        [FromQuery(Name = "endpoint_id")] string? endpointFilter, HttpContext http, WebhooksDbContext db, CancellationToken ct) =>
        ListAttemptsAsync(tenant, endpointId: null, msgId, endpointFilter, limit, iterator, status, statusCodeClass, channel, before, after, withContent, http, db, ct);

    /// <summary>Attempts, newest first, of one endpoint or of one message (optionally to one endpoint), filtered as Svix filters them.</summary>
    private static async Task<IResult> ListAttemptsAsync(
        Tenant tenant, string? endpointId, string? msgId, string? endpointFilter, int? limit, string? iterator, int? status, int? statusCodeClass,
        string? channel, DateTimeOffset? before, DateTimeOffset? after, bool? withContent, HttpContext http, WebhooksDbContext db, CancellationToken ct)
    {
        if (ListProblems(limit, iterator, Ids.Attempt, before, after) is { } invalid)
        {
            return invalid;
        }
        if (status is not (null or 0 or 1 or 2 or 3 or 4))
        {
            return SvixChecks.Invalid("status", "'status' must be 0 (success), 1 (pending), 2 (fail), 3 (sending) or 4 (canceled).");
        }
        if (statusCodeClass is not (null or 0 or 100 or 200 or 300 or 400 or 500))
        {
            return SvixChecks.Invalid("status_code_class", "'status_code_class' must be 0, 100, 200, 300, 400 or 500.");
        }
        var application = tenant.Application;
        var attempts = db.DeliveryAttempts.AsNoTracking();
        if ((endpointId ?? endpointFilter) is { } endpointKey)
        {
            var endpoint = await db.FindEndpointAsync(application, endpointKey, ct);
            if (endpoint is null)
            {
                return SvixLookup.NotFound("Endpoint");
            }
            attempts = attempts.Where(a => a.EndpointId == endpoint.Id);
        }
        if (msgId is not null)
        {
            var message = await db.FindMessageAsync(application, msgId, ct);
            if (message is null)
            {
                return SvixLookup.NotFound("Message");
            }
            attempts = attempts.Where(a => a.MessageId == message.Id);
        }
        // An attempt is recorded once made: it succeeded or failed, never pending, sending or canceled.
        attempts = status switch
        {
            0 => attempts.Where(a => a.Succeeded),
            2 => attempts.Where(a => !a.Succeeded),
            null => attempts,
            _ => attempts.Where(a => false),
        };
        if (statusCodeClass is { } codeClass)
        {
            attempts = codeClass == 0
                ? attempts.Where(a => a.ResponseStatus == null || a.ResponseStatus < 100)
                : attempts.Where(a => a.ResponseStatus >= codeClass && a.ResponseStatus < codeClass + 100);
        }
        var types = EventTypesOf(http);
        if (types is not null || channel is not null)
        {
            attempts = attempts.Where(a => db.Messages.Any(m => m.Id == a.MessageId &&
                                                                 (types == null || types.Contains(m.EventType)) &&
                                                                 (channel == null || m.Channels.Contains(channel))));
        }
        if (before is { } b)
        {
            b = TimeFilter.Utc(b);
            attempts = attempts.Where(a => a.StartedAt < b);
        }
        if (after is { } a)
        {
            a = TimeFilter.Utc(a);
            attempts = attempts.Where(x => x.StartedAt > a);
        }
        var content = withContent ?? true;
        return TypedResults.Ok(await SvixPaging.PageAsync(attempts, x => x.Id, descending: true, iterator, limit, x => x.ToSvix(content), ct));
    }
}
