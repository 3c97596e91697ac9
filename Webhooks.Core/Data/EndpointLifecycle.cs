using Microsoft.EntityFrameworkCore;

namespace Webhooks.Core.Data;

/// <summary>
/// Disabling and enabling an endpoint, with what that means for its deliveries: a disabled endpoint's pending
/// and retrying deliveries are parked (kept, not due); enabling makes them due again at once.
/// The worker's automatic disabling parks them the same way, in SQL.
/// </summary>
public static class EndpointLifecycle
{
    public static async Task DisableAsync(this WebhooksDbContext db, Endpoint endpoint, string reason, DateTimeOffset now, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        endpoint.Disable(reason, now);
        await db.SaveChangesAsync(ct);
        await db.Deliveries
            .Where(d => d.EndpointId == endpoint.Id && (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.Failed) && d.NextAttemptAt != null)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, (DateTimeOffset?)null).SetProperty(d => d.UpdatedAt, now), ct);
        await transaction.CommitAsync(ct);
    }

    public static async Task EnableAsync(this WebhooksDbContext db, Endpoint endpoint, DateTimeOffset now, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        endpoint.Enable(now);
        await db.SaveChangesAsync(ct);
        await db.Deliveries
            .Where(d => d.EndpointId == endpoint.Id && (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.Failed) && d.NextAttemptAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, now).SetProperty(d => d.UpdatedAt, now), ct);
        await transaction.CommitAsync(ct);
    }
}
