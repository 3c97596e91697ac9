using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core;

namespace Webhooks.Api.Messages;

public static class MessageRoutes
{
    /// <param name="tenant">The <c>/apps/{appId}</c> group: one application, resolved by its filter.</param>
    public static RouteGroupBuilder MapMessageRoutes(this RouteGroupBuilder tenant)
    {
        var messages = tenant.MapGroup("/messages").WithTags("Messages");
        messages.MapPost("/", PublishAsync).Validate<MessageIn>().ProducesValidationProblem(422).WithMetadata(CachedTenant.Instance);
        messages.MapPost("/batch", PublishBatchAsync).Validate<MessageBatchIn>().ProducesValidationProblem(422).WithMetadata(CachedTenant.Instance);
        messages.MapGet("/", ListAsync).Validate<MessageQuery>();
        messages.MapGet("/{messageId}", GetAsync);
        messages.MapGet("/{messageId}/deliveries", ListDeliveriesAsync).Validate<DeliveryQuery>();
        messages.MapGet("/{messageId}/attempts", ListAttemptsAsync).Validate<AttemptQuery>();
        messages.MapPost("/{messageId}/endpoints/{endpointId}/resend", ResendAsync);
        tenant.MapGet("/attempts/{attemptId}", GetAttemptAsync).WithTags("Messages");
        return tenant;
    }

    internal static MessageOut ToOut(this Message m, IReadOnlyList<DeliveryOut>? deliveries = null)
    {
        using var payload = JsonDocument.Parse(m.Payload);
        return m.ToOut(payload.RootElement.Clone(), deliveries);
    }

    /// <summary>A message with its payload already parsed (the request's, when just published: no second parse).</summary>
    internal static MessageOut ToOut(this Message m, JsonElement payload, IReadOnlyList<DeliveryOut>? deliveries = null) =>
        new(m.Id, m.EventType, payload, m.Channels, m.IdempotencyKey, m.CreatedAt, deliveries, m.Priority, m.OrderingKey);

    private static MessageOut ToOut(this MessagePublisher.Published published) =>
        published.Payload is { } payload ? published.Message.ToOut(payload) : published.Message.ToOut();

    internal static AttemptOut ToOut(this DeliveryAttempt a) => new(
        a.Id, a.MessageId, a.EndpointId, a.Url, SnakeCase.Of(a.Trigger), a.StartedAt, a.DurationMs, a.Succeeded,
        a.RequestHeaders, a.ResponseStatus, a.ResponseHeaders, a.ResponseBody, a.ErrorKind, a.ErrorMessage, a.TokenRefreshed, a.TraceId);

    internal static DeliveryOut ToOut(this Core.Data.Delivery d) =>
        new(d.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), d.MessageId, d.EndpointId, SnakeCase.Of(d.Status),
            d.AttemptCount, d.NextAttemptAt, d.LastStatusCode, d.UpdatedAt);

    private static async Task<Results<Accepted<MessageOut>, Ok<MessageOut>, ProblemHttpResult, ValidationProblem>> PublishAsync(
        Tenant tenant, MessageIn input, [FromHeader(Name = "idempotency-key")] string? idempotencyKey,
        WebhooksDbContext db, MessagePublisher publisher, PayloadSchemas schemas, CancellationToken ct)
    {
        var application = tenant.Application;
        if (idempotencyKey is not null && input.IdempotencyKey is null)
        {
            if (idempotencyKey.Length is 0 or > 256 || !Text.IsPrintable(idempotencyKey))
            {
                return Problems.Invalid("idempotency-key", "The 'idempotency-key' header must be 1 to 256 printable characters.");
            }
            input = input with { IdempotencyKey = idempotencyKey };
        }
        var rejected = await schemas.CheckAsync(db, application.Id, [(input.EventType, input.Payload)], _ => "", ct);
        if (rejected.Count > 0)
        {
            return Problems.Rejected(rejected);
        }
        var published = await publisher.PublishAsync(application, input, ct);
        var body = published.ToOut();
        return published.Created
            ? TypedResults.Accepted($"/api/v1/apps/{application.Id}/messages/{body.Id}", body)
            : TypedResults.Ok(body);
    }

    private static async Task<Results<Accepted<MessageBatchOut>, ProblemHttpResult>> PublishBatchAsync(
        Tenant tenant, MessageBatchIn input, WebhooksDbContext db, MessagePublisher publisher, PayloadSchemas schemas, CancellationToken ct)
    {
        var application = tenant.Application;
        var rejected = await schemas.CheckAsync(db, application.Id, input.Messages.Select(m => (m.EventType, m.Payload)).ToList(), i => $"messages[{i}].", ct);
        if (rejected.Count > 0)
        {
            return Problems.Rejected(rejected);
        }
        var published = await publisher.PublishBatchAsync(application, input.Messages, ct);
        return TypedResults.Accepted((string?)null, new MessageBatchOut(published.Select(p => p.ToOut()).ToList()));
    }

    /// <summary>
    /// An application's messages, newest first, each with its status, filtered by event type, channel, creation time,
    /// status and endpoint, or found by id, idempotency key or event id.
    /// </summary>
    private static async Task<Results<Ok<ListResponse<MessageOut>>, ProblemHttpResult>> ListAsync(
        Tenant tenant, [AsParameters] MessageQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        return TypedResults.Ok(await db.Messages.Where(m => m.ApplicationId == application.Id).PageAsync(db, query, ct));
    }

    /// <summary>The filters of <paramref name="query"/> but the paging ones (the counts per status use these).</summary>
    internal static IQueryable<Message> Filter(this IQueryable<Message> messages, WebhooksDbContext db, MessageQuery query)
    {
        messages = messages.AsNoTracking();
        if (query.EventType is not null)
        {
            messages = messages.Where(m => m.EventType == query.EventType);
        }
        if (query.Channel is not null)
        {
            messages = messages.Where(m => m.Channels.Contains(query.Channel));
        }
        if (query.Search is { } search)
        {
            messages = messages.Where(m => m.Id == search || m.IdempotencyKey == search || m.EventId == search);
        }
        if (query.PayloadFilter is { } payloadFilter && Infrastructure.MessageQueryValidator.PayloadFilterOf(payloadFilter).Filter is { } filter)
        {
            var path = filter.Path;
            messages = messages.Where(m => PayloadSearch.Matches(m.Payload, path));
        }
        if (query.EndpointId is { } endpointId)
        {
            messages = messages.Where(m => db.Deliveries.Any(d => d.MessageId == m.Id && d.EndpointId == endpointId));
        }
        // Ids start with their creation time: time bounds become id bounds on the (application_id, …, id) indexes.
        if (query.Since is { } since)
        {
            var bound = TimeFilter.IdsFrom(Ids.Message, since);
            since = TimeFilter.Utc(since);
            messages = messages.Where(m => string.Compare(m.Id, bound) >= 0 && m.CreatedAt >= since);
        }
        if (query.Until is { } until)
        {
            var bound = TimeFilter.IdsBefore(Ids.Message, until);
            until = TimeFilter.Utc(until);
            messages = messages.Where(m => string.Compare(m.Id, bound) < 0 && m.CreatedAt < until);
        }
        return query.Status is { } status ? messages.WithStatus(db, status) : messages;
    }

    /// <summary>The messages whose deliveries put them in <paramref name="status"/> (<see cref="MessageStatuses"/>).</summary>
    private static IQueryable<Message> WithStatus(this IQueryable<Message> messages, WebhooksDbContext db, string status) => status switch
    {
        MessageStatuses.FilteredOut => messages.Where(m => !db.Deliveries.Any(d => d.MessageId == m.Id)),
        MessageStatuses.Exhausted => messages.Where(m => db.Deliveries.Any(d => d.MessageId == m.Id && d.Status == DeliveryStatus.Exhausted)),
        MessageStatuses.Failing => messages.Where(m => db.Deliveries.Any(d => d.MessageId == m.Id && d.Status == DeliveryStatus.Failed) &&
                                                      !db.Deliveries.Any(d => d.MessageId == m.Id && d.Status == DeliveryStatus.Exhausted)),
        MessageStatuses.Pending => messages.Where(m =>
            db.Deliveries.Any(d => d.MessageId == m.Id && (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.InFlight)) &&
            !db.Deliveries.Any(d => d.MessageId == m.Id && (d.Status == DeliveryStatus.Failed || d.Status == DeliveryStatus.Exhausted))),
        MessageStatuses.Cancelled => messages.Where(m => db.Deliveries.Any(d => d.MessageId == m.Id && d.Status == DeliveryStatus.Cancelled) &&
                                                        !db.Deliveries.Any(d => d.MessageId == m.Id && d.Status != DeliveryStatus.Succeeded && d.Status != DeliveryStatus.Cancelled)),
        _ => messages.Where(m => db.Deliveries.Any(d => d.MessageId == m.Id) &&
                                 !db.Deliveries.Any(d => d.MessageId == m.Id && d.Status != DeliveryStatus.Succeeded)),
    };

    internal static async Task<ListResponse<MessageOut>> PageAsync(this IQueryable<Message> messages, WebhooksDbContext db, MessageQuery query, CancellationToken ct)
    {
        var take = Paging.Clamp(query.Limit);
        var unfiltered = messages;
        messages = messages.Filter(db, query);
        List<Message> rows;
        bool done;
        if (query.NewerThan is { } newer)
        {
            // The page just newer than a message: read upwards, then turned round to newest first.
            rows = await messages.Where(m => string.Compare(m.Id, newer) > 0).OrderBy(m => m.Id).Take(take + 1).ToListAsync(ct);
            if (rows.Count <= take)
            {
                // Not a whole page newer than it: the newest page (where paging back ends) is the answer.
                return await unfiltered.PageAsync(db, query with { NewerThan = null }, ct);
            }
            rows = rows[..take].AsEnumerable().Reverse().ToList();
            var statuses = await StatusesAsync(db, rows, ct);
            // Older pages exist (the one it was asked from): the iterator is the last of this page.
            return new ListResponse<MessageOut>(rows.Select(m => m.ToOut() with { Status = statuses[m.Id] }).ToList(), rows.Count > 0 ? rows[^1].Id : null, false);
        }
        if (query.Iterator is not null)
        {
            messages = messages.Where(m => string.Compare(m.Id, query.Iterator) < 0);
        }
        rows = await messages.OrderByDescending(m => m.Id).Take(take + 1).ToListAsync(ct);
        done = rows.Count <= take;
        var page = done ? rows : rows[..take];
        var status = await StatusesAsync(db, page, ct);
        return new ListResponse<MessageOut>(page.Select(m => m.ToOut() with { Status = status[m.Id] }).ToList(), page.Count > 0 ? page[^1].Id : null, done);
    }

    private sealed record DeliveryCounts(string MessageId, int All, bool Exhausted, bool Failed, bool Waiting, bool Cancelled);

    /// <summary>Each message's status, from its deliveries, in one query (<see cref="MessageStatuses"/>).</summary>
    internal static Task<Dictionary<string, string>> StatusesAsync(WebhooksDbContext db, IReadOnlyCollection<Message> messages, CancellationToken ct) =>
        StatusesAsync(db, messages.Select(m => m.Id).ToArray(), ct);

    private static async Task<Dictionary<string, string>> StatusesAsync(WebhooksDbContext db, string[] ids, CancellationToken ct)
    {
        var counts = await db.Deliveries.AsNoTracking().Where(d => ids.Contains(d.MessageId))
            .GroupBy(d => d.MessageId)
            .Select(g => new DeliveryCounts(g.Key, g.Count(), g.Any(d => d.Status == DeliveryStatus.Exhausted), g.Any(d => d.Status == DeliveryStatus.Failed),
                g.Any(d => d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.InFlight), g.Any(d => d.Status == DeliveryStatus.Cancelled)))
            .ToDictionaryAsync(c => c.MessageId, ct);
        return ids.ToDictionary(id => id, id => counts.GetValueOrDefault(id) switch
        {
            null => MessageStatuses.FilteredOut,
            { Exhausted: true } => MessageStatuses.Exhausted,
            { Failed: true } => MessageStatuses.Failing,
            { Waiting: true } => MessageStatuses.Pending,
            { Cancelled: true } => MessageStatuses.Cancelled,
            _ => MessageStatuses.Delivered,
        });
    }

    /// <summary>How many of the newest <paramref name="cap"/> messages of the filtered list are in each status.</summary>
    internal static async Task<Dictionary<string, int>> CountByStatusAsync(this IQueryable<Message> filtered, WebhooksDbContext db, int cap, CancellationToken ct)
    {
        var newest = await filtered.OrderByDescending(m => m.Id).Select(m => m.Id).Take(cap).ToListAsync(ct);
        var statuses = new Dictionary<string, string>();
        foreach (var chunk in newest.Chunk(1000))
        {
            foreach (var (id, status) in await StatusesAsync(db, chunk, ct))
            {
                statuses[id] = status;
            }
        }
        return MessageStatuses.All.ToDictionary(s => s, s => statuses.Values.Count(v => v == s));
    }

    /// <summary>Delivers one message to one endpoint again, now (after the endpoint was fixed, say).</summary>
    private static async Task<Results<Accepted<DeliveryOut>, ProblemHttpResult>> ResendAsync(
        Tenant tenant, string messageId, string endpointId, MessagePublisher publisher, CancellationToken ct)
    {
        var application = tenant.Application;
        var (outcome, delivery) = await publisher.ResendAsync(application, messageId, endpointId, ct);
        return outcome switch
        {
            MessagePublisher.ResendOutcome.Requeued => TypedResults.Accepted((string?)null, delivery!.ToOut()),
            MessagePublisher.ResendOutcome.InFlight => Problems.ConflictProblem("The delivery is being attempted right now."),
            _ => Problems.NotFound($"A delivery of message '{messageId}' to endpoint '{endpointId}'"),
        };
    }

    /// <summary>One message with the state of its delivery to each endpoint.</summary>
    private static async Task<Results<Ok<MessageOut>, ProblemHttpResult>> GetAsync(
        Tenant tenant, string messageId, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        var message = application is null
            ? null
            : await db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == messageId && m.ApplicationId == application.Id, ct);
        if (message is null)
        {
            return Problems.NotFound($"Message '{messageId}'");
        }
        var deliveries = await db.Deliveries.AsNoTracking().Where(d => d.MessageId == message.Id).OrderBy(d => d.Id).Take(1000).ToListAsync(ct);
        return TypedResults.Ok(message.ToOut(deliveries.Select(d => d.ToOut()).ToList()));
    }

    private static async Task<Results<Ok<ListResponse<DeliveryOut>>, ProblemHttpResult>> ListDeliveriesAsync(
        Tenant tenant, string messageId, [AsParameters] DeliveryQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        if (application is null || !await db.Messages.AnyAsync(m => m.Id == messageId && m.ApplicationId == application.Id, ct))
        {
            return Problems.NotFound($"Message '{messageId}'");
        }
        return TypedResults.Ok(await db.Deliveries.Where(d => d.MessageId == messageId).PageAsync(query, ct, oldestFirst: true));
    }

    private static async Task<Results<Ok<ListResponse<AttemptOut>>, ProblemHttpResult>> ListAttemptsAsync(
        Tenant tenant, string messageId, [AsParameters] AttemptQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        if (application is null || !await db.Messages.AnyAsync(m => m.Id == messageId && m.ApplicationId == application.Id, ct))
        {
            return Problems.NotFound($"Message '{messageId}'");
        }
        return TypedResults.Ok(await db.DeliveryAttempts.Where(a => a.MessageId == messageId).PageAsync(query, ct, oldestFirst: true));
    }

    private static async Task<Results<Ok<AttemptOut>, ProblemHttpResult>> GetAttemptAsync(
        Tenant tenant, string attemptId, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        var attempt = application is null
            ? null
            : await db.DeliveryAttempts.AsNoTracking()
                .Where(a => a.Id == attemptId && db.Messages.Any(m => m.Id == a.MessageId && m.ApplicationId == application.Id))
                .FirstOrDefaultAsync(ct);
        return attempt is null ? Problems.NotFound($"Attempt '{attemptId}'") : TypedResults.Ok(attempt.ToOut());
    }
}
