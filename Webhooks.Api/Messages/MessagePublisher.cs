using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Messages;

/// <summary>
/// Stores a message and one delivery per subscribed endpoint (parked for a disabled one) in one transaction, then wakes the
/// workers. The same idempotency key within the window returns the first message and stores nothing.
/// </summary>
public sealed class MessagePublisher(WebhooksDbContext db, PublishWriter writer, DispatchSignal signal, TimeProvider time, IOptions<PublishOptions> options)
{
    /// <summary>A message published (or found by its idempotency key); <paramref name="Payload"/>: the request's, when created.</summary>
    public sealed record Published(Message Message, bool Created, JsonElement? Payload = null);

    public async Task<Published> PublishAsync(Application application, MessageIn input, CancellationToken ct) =>
        (await PublishBatchAsync(application, [input], ct))[0];

    /// <summary>Publishes every message in one transaction: all are stored (with their deliveries) or none.</summary>
    public async Task<IReadOnlyList<Published>> PublishBatchAsync(Application application, IReadOnlyList<MessageIn> inputs, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var results = new Published?[inputs.Count];
        var existing = await FindByIdempotencyKeysAsync(application.Id, inputs.Select(m => m.IdempotencyKey).OfType<string>().ToArray(), now, ct);
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].IdempotencyKey is { } key && existing.TryGetValue(key, out var first))
            {
                results[i] = new Published(first, false);
            }
        }

        var traceParent = Activity.Current?.Id;
        var created = new List<Message>();
        for (var i = 0; i < inputs.Count; i++)
        {
            if (results[i] is not null)
            {
                continue;
            }
            var input = inputs[i];
            var channels = input.Channels?.Distinct(StringComparer.Ordinal).ToArray() ?? [];
            var message = new Message(application.Id, input.EventType, input.Payload.GetRawText(), channels, input.IdempotencyKey, traceParent, now,
                (short)(input.Priority ?? Message.DefaultPriority), input.OrderingKey);
            results[i] = new Published(message, true, input.Payload);
            created.Add(message);
        }

        if (created.Count > 0)
        {
            try
            {
                // A single message without an idempotency key joins the other publishes waiting to be written (one
                // statement for all of them). A batch is written on its own, all or nothing; so is a message with a key,
                // which a concurrent publish of the same key could make fail (and that must not fail a group of others).
                await (inputs.Count == 1 && created[0].IdempotencyKey is null ? writer.WriteAsync(created, ct) : writer.WriteNowAsync(created, ct));
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // A concurrent publish with the same idempotency key won the race: nothing of this call was
                // stored; publish again, now finding the winner's message for that key.
                return await PublishBatchAsync(application, inputs, ct);
            }
        }
        return results!;
    }

    public enum ResendOutcome { Requeued, NotFound, InFlight }

    /// <summary>Makes one message's delivery to one endpoint due now again (parked while the endpoint is disabled).</summary>
    public async Task<(ResendOutcome Outcome, Core.Data.Delivery? Delivery)> ResendAsync(Application application, string messageId, string endpointId, CancellationToken ct)
    {
        var found = await db.Deliveries.AsNoTracking().AnyAsync(d => d.MessageId == messageId && d.EndpointId == endpointId && d.ApplicationId == application.Id, ct);
        if (!found || !await db.Endpoints.AnyAsync(e => e.Id == endpointId, ct))
        {
            return (ResendOutcome.NotFound, null);
        }
        // The delivery as requeued, read in the requeue's transaction: a worker may claim it the moment that commits.
        Core.Data.Delivery delivery = null!;
        var requeued = await db.RequeueAsync(DeliveryLifecycle.Resend, endpointId, [new NpgsqlParameter("message_id", messageId)], ct,
            async () => delivery = await db.Deliveries.AsNoTracking().FirstAsync(d => d.MessageId == messageId && d.EndpointId == endpointId, ct));
        if (requeued == 0)
        {
            return (ResendOutcome.InFlight, delivery);
        }
        await signal.NotifyAsync();
        return (ResendOutcome.Requeued, delivery);
    }

    /// <summary>
    /// Publishes a message as Svix does (see <see cref="Message.Raw"/>): its payload is the delivered body. With an
    /// <paramref name="idempotencyKey"/> already used in the application within the window, the first message is returned
    /// (<see cref="Published.Created"/> false) and nothing is stored: a retry after a cut-off answer never publishes twice.
    /// Null when <paramref name="eventId"/> is taken in the application (nothing is stored then).
    /// </summary>
    public async Task<Published?> PublishRawAsync(Application application, string eventType, JsonElement payload, IReadOnlyList<string>? channels,
        string? eventId, string? idempotencyKey, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (idempotencyKey is not null && (await FindByIdempotencyKeysAsync(application.Id, [idempotencyKey], now, ct)).TryGetValue(idempotencyKey, out var first))
        {
            return new Published(first, false);
        }
        var message = new Message(application.Id, eventType, payload.GetRawText(), channels?.Distinct(StringComparer.Ordinal).ToArray() ?? [], idempotencyKey,
            Activity.Current?.Id, now, eventId: eventId, raw: true);
        try
        {
            // Without an event id or a key nothing can make it fail but an outage: it joins the grouped writes.
            await (eventId is null && idempotencyKey is null ? writer.WriteAsync([message], ct) : writer.WriteNowAsync([message], ct));
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: Message.EventIdIndex })
        {
            return null;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && idempotencyKey is not null)
        {
            // A concurrent publish with the same key won: its message is the answer.
            return await PublishRawAsync(application, eventType, payload, channels, eventId, idempotencyKey, ct);
        }
        return new Published(message, true, payload);
    }

    /// <summary>
    /// Sends a message to one endpoint that it did not go to (its filters left it out, or the endpoint is newer), now, as a
    /// manual delivery; false when there is a delivery already (resend that instead).
    /// </summary>
    public async Task<bool> DeliverToAsync(Message message, Core.Data.Endpoint endpoint, CancellationToken ct)
    {
        var inserted = await db.Database.ExecuteSqlRawAsync(DeliverToSql,
            [new NpgsqlParameter("message_id", message.Id), new NpgsqlParameter("endpoint_id", endpoint.Id), new NpgsqlParameter("priority", message.Priority)], ct);
        if (inserted > 0)
        {
            await signal.NotifyAsync();
        }
        return inserted > 0;
    }

    // As the fan-out places a delivery (parked while the endpoint is disabled, held while its circuit is open), but manual.
    private static readonly string DeliverToSql = $"""
        INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempt_count, next_attempt_at, held_due_at, trigger, priority,
                                queued, created_at, updated_at)
        SELECT @message_id, e.id, e.application_id, 'pending', 0, {DeliveryLifecycle.DueNowUnlessDisabled("e")}, {DeliveryLifecycle.HeldNowIfOpen("e")},
               'manual', @priority, false, now(), now()
        FROM endpoints e WHERE e.id = @endpoint_id AND e.deleted_at IS NULL
        ON CONFLICT (message_id, endpoint_id) DO NOTHING
        """;

    /// <summary>Stores an event for one endpoint only (a test), due now whatever the endpoint's filters.</summary>
    public async Task<Core.Data.Delivery> PublishTestAsync(Application application, Core.Data.Endpoint endpoint, string eventType, System.Text.Json.JsonElement payload, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var message = new Message(application.Id, eventType, payload.GetRawText(), [], null, Activity.Current?.Id, now);
        var delivery = Core.Data.Delivery.ForTest(message.Id, endpoint.Id, application.Id, now);
        db.Messages.Add(message);
        db.Deliveries.Add(delivery);
        await db.SaveChangesAsync(ct);
        await signal.NotifyAsync();
        return delivery;
    }

    /// <summary>
    /// The messages already published under these keys within the window, in one query. Keys whose window is over
    /// are freed, so the new messages can take them.
    /// </summary>
    private async Task<Dictionary<string, Message>> FindByIdempotencyKeysAsync(string applicationId, string[] keys, DateTimeOffset now, CancellationToken ct)
    {
        if (keys.Length == 0)
        {
            return [];
        }
        var found = await db.Messages.AsNoTracking().Where(m => m.ApplicationId == applicationId && keys.Contains(m.IdempotencyKey)).ToListAsync(ct);
        var windowStart = now.AddHours(-options.Value.IdempotencyWindowHours);
        var expired = found.Where(m => m.CreatedAt < windowStart).Select(m => m.Id).ToArray();
        if (expired.Length > 0)
        {
            await db.Messages.Where(m => expired.Contains(m.Id)).ExecuteUpdateAsync(s => s.SetProperty(m => m.IdempotencyKey, (string?)null), ct);
        }
        return found.Where(m => m.CreatedAt >= windowStart).ToDictionary(m => m.IdempotencyKey!);
    }
}
