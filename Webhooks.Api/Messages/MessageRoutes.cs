using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Messages;

public static class MessageRoutes
{
    public static RouteGroupBuilder MapMessageRoutes(this RouteGroupBuilder api)
    {
        var messages = api.MapGroup("/apps/{appId}/messages").WithTags("Messages");
        messages.MapPost("/", PublishAsync).Validate<MessageIn>();
        messages.MapPost("/batch", PublishBatchAsync).Validate<MessageBatchIn>();
        messages.MapGet("/{messageId}", GetAsync);
        messages.MapGet("/{messageId}/deliveries", ListDeliveriesAsync);
        messages.MapGet("/{messageId}/attempts", ListAttemptsAsync);
        messages.MapPost("/{messageId}/endpoints/{endpointId}/resend", ResendAsync);
        return api;
    }

    internal static MessageOut ToOut(this Message m)
    {
        using var payload = JsonDocument.Parse(m.Payload);
        return new MessageOut(m.Id, m.EventType, payload.RootElement.Clone(), m.Channels, m.IdempotencyKey, m.CreatedAt);
    }

    internal static AttemptOut ToOut(this DeliveryAttempt a) => new(
        a.Id, a.MessageId, a.EndpointId, a.Url, Core.Data.SnakeCase.Of(a.Trigger), a.StartedAt, a.DurationMs, a.Succeeded,
        a.ResponseStatus, a.ResponseHeaders, a.ResponseBody, a.ErrorKind, a.ErrorMessage);

    private static async Task<Results<Accepted<MessageOut>, Ok<MessageOut>, NotFound<ProblemDetails>>> PublishAsync(
        string appId, MessageIn input, [FromHeader(Name = "idempotency-key")] string? idempotencyKey,
        WebhooksDbContext db, MessagePublisher publisher, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        if (idempotencyKey is { Length: > 0 and <= 256 } && input.IdempotencyKey is null)
        {
            input = input with { IdempotencyKey = idempotencyKey };
        }
        var published = await publisher.PublishAsync(application, input, ct);
        var body = published.Message.ToOut();
        return published.Created
            ? TypedResults.Accepted($"/api/v1/apps/{application.Id}/messages/{body.Id}", body)
            : TypedResults.Ok(body);
    }

    private static async Task<Results<Accepted<MessageBatchOut>, NotFound<ProblemDetails>>> PublishBatchAsync(
        string appId, MessageBatchIn input, WebhooksDbContext db, MessagePublisher publisher, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var published = await publisher.PublishBatchAsync(application, input.Messages, ct);
        return TypedResults.Accepted((string?)null, new MessageBatchOut(published.Select(p => p.Message.ToOut()).ToList()));
    }

    internal static DeliveryOut ToOut(this Core.Data.Delivery d) =>
        new(d.MessageId, d.EndpointId, Core.Data.SnakeCase.Of(d.Status), d.AttemptCount, d.NextAttemptAt, d.LastStatusCode, d.UpdatedAt);

    /// <summary>Delivers one message to one endpoint again, now (after the endpoint was fixed, say).</summary>
    private static async Task<Results<Accepted<DeliveryOut>, NotFound<ProblemDetails>, ProblemHttpResult>> ResendAsync(
        string appId, string messageId, string endpointId, WebhooksDbContext db, Core.Delivery.DispatchSignal signal, HttpContext http,
        TimeProvider time, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        var delivery = application is null
            ? null
            : await db.Deliveries.FirstOrDefaultAsync(d => d.MessageId == messageId && d.EndpointId == endpointId && d.ApplicationId == application.Id, ct);
        if (delivery is null)
        {
            return Problems.NotFound($"A delivery of message '{messageId}' to endpoint '{endpointId}'");
        }
        if (delivery.Status == DeliveryStatus.InFlight)
        {
            return TypedResults.Problem(type: Problems.Conflict, title: "Conflict", detail: "The delivery is being attempted right now.", statusCode: 409);
        }
        var disabled = await db.Endpoints.Where(e => e.Id == endpointId).Select(e => e.Disabled).FirstAsync(ct);
        delivery.Requeue(time.GetUtcNow(), disabled);
        await db.SaveChangesAsync(ct);
        await signal.NotifyAsync();
        return TypedResults.Accepted((string?)null, delivery.ToOut());
    }

    private static async Task<Results<Ok<MessageOut>, NotFound<ProblemDetails>>> GetAsync(
        string appId, string messageId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        var message = application is null
            ? null
            : await db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == messageId && m.ApplicationId == application.Id, ct);
        return message is null ? Problems.NotFound($"Message '{messageId}'") : TypedResults.Ok(message.ToOut());
    }

    private static async Task<Results<Ok<ListResponse<DeliveryOut>>, NotFound<ProblemDetails>>> ListDeliveriesAsync(
        string appId, string messageId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var deliveries = await db.Deliveries.AsNoTracking()
            .Where(d => d.MessageId == messageId && d.ApplicationId == application.Id)
            .OrderBy(d => d.Id)
            .ToListAsync(ct);
        var data = deliveries.Select(d => d.ToOut()).ToList();
        return TypedResults.Ok(new ListResponse<DeliveryOut>(data, null, true));
    }

    private static async Task<Results<Ok<ListResponse<AttemptOut>>, NotFound<ProblemDetails>>> ListAttemptsAsync(
        string appId, string messageId, int? limit, string? iterator, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null || !await db.Messages.AnyAsync(m => m.Id == messageId && m.ApplicationId == application.Id, ct))
        {
            return Problems.NotFound($"Message '{messageId}'");
        }
        var take = Paging.Clamp(limit);
        var query = db.DeliveryAttempts.AsNoTracking().Where(a => a.MessageId == messageId);
        if (iterator is not null)
        {
            query = query.Where(a => string.Compare(a.Id, iterator) > 0);
        }
        var rows = await query.OrderBy(a => a.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, a => a.Id, a => a.ToOut()));
    }
}
