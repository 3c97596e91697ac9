using System.Diagnostics;
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
public sealed class MessagePublisher(WebhooksDbContext db, DispatchSignal signal, TimeProvider time, IOptions<PublishOptions> options)
{
    public sealed record Published(Message Message, bool Created);

    public async Task<Published> PublishAsync(Application application, MessageIn input, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (input.IdempotencyKey is { } key && await FindByIdempotencyKeyAsync(application.Id, key, now, ct) is { } existing)
        {
            return new Published(existing, false);
        }

        var channels = input.Channels?.Distinct(StringComparer.Ordinal).ToArray() ?? [];
        var message = new Message(application.Id, input.EventType, input.Payload.GetRawText(), channels, input.IdempotencyKey, Activity.Current?.Id, now);
        var endpoints = await db.Endpoints.AsNoTracking()
            .Where(e => e.ApplicationId == application.Id && (e.EventTypes.Length == 0 || e.EventTypes.Contains(input.EventType)))
            .Select(e => new { e.Id, e.Channels, e.Disabled })
            .ToListAsync(ct);

        db.Messages.Add(message);
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Channels.Length == 0 || channels.Any(c => endpoint.Channels.Contains(c)))
            {
                // A disabled endpoint's delivery is kept parked: enabling the endpoint delivers it.
                db.Deliveries.Add(new Core.Data.Delivery(message.Id, endpoint.Id, application.Id, now, parked: endpoint.Disabled));
            }
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } && input.IdempotencyKey is not null)
        {
            // A concurrent publish with the same key won the race: answer with its message.
            db.ChangeTracker.Clear();
            var winner = await FindByIdempotencyKeyAsync(application.Id, input.IdempotencyKey, now, ct);
            return winner is not null ? new Published(winner, false) : throw new InvalidOperationException("Idempotency conflict without a stored message.", ex);
        }
        await signal.NotifyAsync();
        return new Published(message, true);
    }

    private async Task<Message?> FindByIdempotencyKeyAsync(string applicationId, string key, DateTimeOffset now, CancellationToken ct)
    {
        var message = await db.Messages.FirstOrDefaultAsync(m => m.ApplicationId == applicationId && m.IdempotencyKey == key, ct);
        if (message is null || message.CreatedAt >= now.AddHours(-options.Value.IdempotencyWindowHours))
        {
            return message;
        }
        // The key's window is over: free it, so the new message can take it.
        await db.Messages.Where(m => m.Id == message.Id).ExecuteUpdateAsync(s => s.SetProperty(m => m.IdempotencyKey, (string?)null), ct);
        return null;
    }
}
