using Microsoft.EntityFrameworkCore;

namespace Webhooks.Core.Data;

/// <summary>
/// Disabling and enabling an endpoint, with what that means for its deliveries: a disabled endpoint's pending
/// and retrying deliveries are parked (kept, not due); enabling makes them due again at once.
/// The worker's automatic disabling parks them the same way, in SQL.
/// </summary>
public static class EndpointLifecycle
{
    public static Task DisableAsync(this WebhooksDbContext db, Endpoint endpoint, string reason, DateTimeOffset now, CancellationToken ct) =>
        db.InTransactionAsync(async () =>
        {
            endpoint.Disable(reason, now);
            await db.SaveChangesAsync(ct);
            await db.Deliveries
                .Where(d => d.EndpointId == endpoint.Id && (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.Failed) && d.NextAttemptAt != null)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, (DateTimeOffset?)null).SetProperty(d => d.UpdatedAt, now), ct);
        }, ct);

    public static Task EnableAsync(this WebhooksDbContext db, Endpoint endpoint, DateTimeOffset now, CancellationToken ct) =>
        db.InTransactionAsync(async () =>
        {
            endpoint.Enable(now);
            await db.SaveChangesAsync(ct);
            await db.Deliveries
                .Where(d => d.EndpointId == endpoint.Id && (d.Status == DeliveryStatus.Pending || d.Status == DeliveryStatus.Failed) && d.NextAttemptAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, now).SetProperty(d => d.UpdatedAt, now), ct);
        }, ct);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction under the context's execution strategy, so a transient
    /// failure retries the whole unit rather than half of it.
    /// </summary>
    public static Task InTransactionAsync(this WebhooksDbContext db, Func<Task> work, CancellationToken ct) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await work();
            await transaction.CommitAsync(ct);
        });
}
