using Microsoft.EntityFrameworkCore;
using Npgsql;
using Webhooks.Core.Delivery;

namespace Webhooks.Core.Data;

/// <summary>
/// Disabling and enabling an endpoint, with what that means for its deliveries: a disabled endpoint's pending
/// and retrying deliveries are parked (kept, not due); enabling makes them due again at once, and closes its circuit.
/// The transitions are <see cref="DeliveryLifecycle"/>'s, as for the worker's automatic disabling.
/// </summary>
public static class EndpointLifecycle
{
    public static Task DisableAsync(this WebhooksDbContext db, Endpoint endpoint, string reason, DateTimeOffset now, CancellationToken ct) =>
        db.InTransactionAsync(async () =>
        {
            endpoint.Disable(reason, now);
            await db.SaveInUnitAsync(ct);
            await db.ApplyAsync(DeliveryLifecycle.Park, endpoint.Id, ct);
        }, ct);

    public static Task EnableAsync(this WebhooksDbContext db, Endpoint endpoint, DateTimeOffset now, CancellationToken ct) =>
        db.InTransactionAsync(async () =>
        {
            // Enabling starts over: the circuit closes too (recorded in the endpoint's history), so nothing stays held.
            if (endpoint.Enable(now) is { } closed)
            {
                db.EndpointEvents.Add(closed);
            }
            await db.SaveInUnitAsync(ct);
            await db.ApplyAsync(DeliveryLifecycle.Unpark, endpoint.Id, ct);
        }, ct);

    /// <summary>
    /// Saves an endpoint's changed settings, in one transaction with what they release: when its transformation or format
    /// changed, the deliveries the old one blocked (<see cref="DeliveryLifecycle.Unblock"/>) are due again; an endpoint that
    /// stops being <c>fifo</c> lets its queued deliveries go at once, unordered (<see cref="DeliveryLifecycle.Unorder"/>).
    /// One that becomes <c>fifo</c> orders the messages published from then on; deliveries already waiting stay unordered.
    /// </summary>
    public static async Task SaveSettingsAsync(this WebhooksDbContext db, Endpoint endpoint, DeliveryOrdering before, bool transformationChanged, CancellationToken ct)
    {
        var unorder = before == DeliveryOrdering.Fifo && endpoint.Ordering != DeliveryOrdering.Fifo;
        if (!unorder && !transformationChanged)
        {
            await db.SaveChangesAsync(ct);
            return;
        }
        await db.InTransactionAsync(async () =>
        {
            await db.SaveInUnitAsync(ct);
            if (unorder)
            {
                await db.ApplyAsync(DeliveryLifecycle.LockEndpointOrderingHeads, endpoint.Id, ct);
                await db.ApplyAsync(DeliveryLifecycle.Unorder, endpoint.Id, ct);
            }
            if (transformationChanged)
            {
                await db.ApplyAsync(DeliveryLifecycle.Unblock, endpoint.Id, ct);
            }
        }, ct);
    }

    /// <summary>
    /// Resend or recover (<paramref name="requeue"/>, <see cref="DeliveryLifecycle.Resend"/> or
    /// <see cref="DeliveryLifecycle.Recover"/>) for endpoint <paramref name="endpointId"/>, under its row lock (a fifo key's
    /// queue then changes under one lock order, the recorder's), then <paramref name="thenInTransaction"/>, which reads the
    /// requeued state before any worker can claim it. Returns how many deliveries were requeued.
    /// </summary>
    public static async Task<int> RequeueAsync(
        this WebhooksDbContext db, string requeue, string endpointId, NpgsqlParameter[] parameters, CancellationToken ct, Func<Task>? thenInTransaction = null)
    {
        var requeued = 0;
        await db.InTransactionAsync(async () =>
        {
            await db.ApplyAsync(DeliveryLifecycle.LockEndpoints, endpointId, ct);
            requeued = await db.Database.ExecuteSqlRawAsync(requeue, [new NpgsqlParameter("endpoint_id", endpointId), .. parameters], ct);
            if (thenInTransaction is not null)
            {
                await thenInTransaction();
            }
        }, ct);
        return requeued;
    }

    /// <summary>
    /// Deletes an endpoint: hidden and no longer delivered to at once (its waiting deliveries are cancelled); the row and
    /// its deliveries go now if nothing is in flight to it, else when the worker's sweep finds it idle.
    /// </summary>
    public static async Task DeleteAsync(this WebhooksDbContext db, Endpoint endpoint, DateTimeOffset now, CancellationToken ct)
    {
        await db.InTransactionAsync(async () =>
        {
            endpoint.MarkDeleted(now);
            await db.SaveInUnitAsync(ct);
            await db.ApplyAsync(DeliveryLifecycle.Cancel, endpoint.Id, ct);
        }, ct);
        await db.TryPurgeDeletedAsync();
    }

    /// <summary>Deletes an application the same way: hidden at once, its rows removed once nothing of it is in flight.</summary>
    public static async Task DeleteAsync(this WebhooksDbContext db, Application application, DateTimeOffset now, CancellationToken ct)
    {
        await db.InTransactionAsync(async () =>
        {
            application.MarkDeleted(now);
            await db.SaveInUnitAsync(ct);
            // Deleted endpoints are disabled too: the worker's claim tests only that.
            await db.Endpoints.Where(e => e.ApplicationId == application.Id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(e => e.DeletedAt, now.AtStoragePrecision())
                    .SetProperty(e => e.Disabled, true)
                    .SetProperty(e => e.DisabledReason, e => e.Disabled ? e.DisabledReason : "Deleted.")
                    .SetProperty(e => e.DisabledAt, e => e.Disabled ? e.DisabledAt : now.AtStoragePrecision())
                    .SetProperty(e => e.UpdatedAt, now.AtStoragePrecision()), ct);
            var endpointIds = await db.Endpoints.IgnoreQueryFilters().Where(e => e.ApplicationId == application.Id).Select(e => e.Id).ToArrayAsync(ct);
            await db.ApplyAsync(DeliveryLifecycle.Cancel, endpointIds, ct);
        }, ct);
        await db.TryPurgeDeletedAsync();
    }

    /// <summary>
    /// Removes the deleted rows now if that is quick; the delete has committed either way, and the worker's purge job
    /// removes whatever is left, so a slow or failed purge never turns a done delete into an error.
    /// </summary>
    private static async Task TryPurgeDeletedAsync(this WebhooksDbContext db)
    {
        using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await db.PurgeDeletedAsync(quick.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or Npgsql.NpgsqlException or InvalidOperationException)
        {
        }
    }

    /// <summary>Runs one of <see cref="DeliveryLifecycle"/>'s transitions for the given endpoints, in the context's transaction.</summary>
    private static Task<int> ApplyAsync(this WebhooksDbContext db, string transition, string endpointId, CancellationToken ct) =>
        db.ApplyAsync(transition, [endpointId], ct);

    private static Task<int> ApplyAsync(this WebhooksDbContext db, string transition, string[] endpointIds, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(transition, [new NpgsqlParameter("endpoint_ids", endpointIds)], ct);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction under the context's execution strategy, so a transient
    /// failure retries the whole unit rather than half of it. Tracked changes are accepted only once the transaction
    /// commits: a retry writes the entity again, rather than finding nothing to save and committing only the
    /// statements that follow (which would, say, cancel a live endpoint's deliveries).
    /// </summary>
    public static async Task InTransactionAsync(this WebhooksDbContext db, Func<Task> work, CancellationToken ct)
    {
        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await work();
            await transaction.CommitAsync(ct);
        });
        db.ChangeTracker.AcceptAllChanges();
    }

    /// <summary>Saves inside <see cref="InTransactionAsync"/>: the changes stay pending until the transaction commits.</summary>
    private static Task SaveInUnitAsync(this WebhooksDbContext db, CancellationToken ct) => db.SaveChangesAsync(acceptAllChangesOnSuccess: false, ct);
}
