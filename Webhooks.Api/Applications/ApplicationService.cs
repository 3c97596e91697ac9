using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Applications;

/// <summary>
/// Creating, changing and deleting applications, for the API and the dashboard alike: who may do it (admin keys create
/// and delete; an application key changes only its own application, never the operational one nor to its uid) and the
/// uid-taken check. Callers validate the input first.
/// </summary>
public sealed class ApplicationService(WebhooksDbContext db, TimeProvider time, IOptions<OperationalApplicationOptions> operational, LookupCache cache)
{
    public enum Outcome
    {
        Done,
        Forbidden,
        UidTaken,
    }

    /// <summary>What came of a change: the application when done, the reason when forbidden.</summary>
    public sealed record Change(Outcome Outcome, Application? Application = null, string? Refusal = null)
    {
        public static Change Refused(string refusal) => new(Outcome.Forbidden, Refusal: refusal);
    }

    /// <param name="metadata">Svix's free metadata; null: none.</param>
    public async Task<Change> CreateAsync(ApiCaller caller, ApplicationIn input, CancellationToken ct, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!caller.IsAdmin)
        {
            return Change.Refused("Only an admin key can create applications.");
        }
        if (await UidTakenAsync(input.Uid, ct))
        {
            return new Change(Outcome.UidTaken);
        }
        var application = new Application(input.Name, input.Uid, time.GetUtcNow())
        {
            RetrySchedule = input.RetrySchedule?.ToArray(),
            Metadata = metadata?.ToDictionary() ?? [],
        };
        db.Applications.Add(application);
        return await SaveUnlessUidTakenAsync(ct) ? new Change(Outcome.Done, application) : new Change(Outcome.UidTaken);
    }

    /// <summary>Replaces name, uid and retry schedule; nothing changes unless the outcome is <see cref="Outcome.Done"/>.</summary>
    /// <param name="metadata">Svix's free metadata; null: kept as stored.</param>
    public async Task<Change> UpdateAsync(ApiCaller caller, Application application, ApplicationIn input, CancellationToken ct,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Refused before the uid-taken check: an application key learns nothing of whether the operational application exists.
        if (!caller.IsAdmin && operational.Value.IsReserved(application.Uid))
        {
            return Change.Refused($"The application '{application.Uid}' receives the platform's operational events: only an admin key can change it.");
        }
        if (!caller.IsAdmin && operational.Value.IsReserved(input.Uid))
        {
            return Change.Refused($"The uid '{input.Uid}' is reserved for the platform's operational application: only an admin key can set it.");
        }
        if (input.Uid != application.Uid && await UidTakenAsync(input.Uid, ct))
        {
            return new Change(Outcome.UidTaken);
        }
        application.Update(input.Name, input.Uid, input.RetrySchedule?.ToArray(), time.GetUtcNow());
        if (metadata is not null)
        {
            application.Metadata = metadata.ToDictionary();
        }
        if (!await SaveUnlessUidTakenAsync(ct))
        {
            return new Change(Outcome.UidTaken);
        }
        cache.Invalidate(); // publishing finds it by its new uid, not by its old one, at once
        return new Change(Outcome.Done, application);
    }

    /// <summary>
    /// Deletes an application (admin keys only): at once it is gone for the API, its uid is free (for an admin key, if it
    /// is the reserved one) and nothing more of it is delivered; its rows go when no delivery of it is in flight.
    /// </summary>
    public async Task<Change> DeleteAsync(ApiCaller caller, Application application, CancellationToken ct)
    {
        if (!caller.IsAdmin)
        {
            return Change.Refused("Only an admin key can delete applications.");
        }
        await db.DeleteAsync(application, time.GetUtcNow(), ct);
        cache.Invalidate(); // its keys stop working at once
        return new Change(Outcome.Done, application);
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
