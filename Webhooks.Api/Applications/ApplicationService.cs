using Microsoft.EntityFrameworkCore;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Applications;

/// <summary>Creating and updating applications, for the API and the dashboard alike; callers validate the input first.</summary>
public sealed class ApplicationService(WebhooksDbContext db, TimeProvider time)
{
    /// <summary>The new application, or null when its uid is taken.</summary>
    public async Task<Application?> CreateAsync(ApplicationIn input, CancellationToken ct)
    {
        if (await UidTakenAsync(input.Uid, ct))
        {
            return null;
        }
        var application = new Application(input.Name, input.Uid, time.GetUtcNow()) { RetrySchedule = input.RetrySchedule?.ToArray() };
        db.Applications.Add(application);
        return await SaveUnlessUidTakenAsync(ct) ? application : null;
    }

    /// <summary>Replaces name, uid and retry schedule; false (nothing changed) when the new uid is another's.</summary>
    public async Task<bool> UpdateAsync(Application application, ApplicationIn input, CancellationToken ct)
    {
        if (input.Uid != application.Uid && await UidTakenAsync(input.Uid, ct))
        {
            return false;
        }
        application.Update(input.Name, input.Uid, input.RetrySchedule?.ToArray(), time.GetUtcNow());
        return await SaveUnlessUidTakenAsync(ct);
    }

    private async Task<bool> UidTakenAsync(string? uid, CancellationToken ct) =>
        uid is not null && await db.Applications.IgnoreQueryFilters().AnyAsync(a => a.Uid == uid, ct);

    // The check above can lose a race with a concurrent request taking the same uid: the unique index decides.
    private async Task<bool> SaveUnlessUidTakenAsync(CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }
}
