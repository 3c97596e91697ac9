using Microsoft.EntityFrameworkCore;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Applications;

/// <summary>Creating applications, for the API and the dashboard alike; callers validate the input first.</summary>
public sealed class ApplicationService(WebhooksDbContext db, TimeProvider time)
{
    /// <summary>The new application, or null when its uid is taken.</summary>
    public async Task<Application?> CreateAsync(ApplicationIn input, CancellationToken ct)
    {
        if (input.Uid is not null && await db.Applications.IgnoreQueryFilters().AnyAsync(a => a.Uid == input.Uid, ct))
        {
            return null;
        }
        var application = new Application(input.Name, input.Uid, time.GetUtcNow()) { RetrySchedule = input.RetrySchedule?.ToArray() };
        db.Applications.Add(application);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return null;
        }
        return application;
    }
}
