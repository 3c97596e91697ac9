using Microsoft.EntityFrameworkCore;
using Webhooks.Core;
using Webhooks.Core.Data;

namespace Webhooks.Api.Infrastructure;

public static class ApplicationLookup
{
    /// <summary>
    /// The application named by id or by uid, if it exists and the caller may see it. Another tenant's
    /// application is reported as missing, not forbidden: its existence is not disclosed.
    /// </summary>
    public static async Task<Application?> FindApplicationAsync(this WebhooksDbContext db, ApiCaller caller, string idOrUid, CancellationToken cancellationToken)
    {
        var application = Ids.IsValid(idOrUid, Ids.Application)
            ? await db.Applications.FirstOrDefaultAsync(a => a.Id == idOrUid, cancellationToken)
            : await db.Applications.FirstOrDefaultAsync(a => a.Uid == idOrUid, cancellationToken);
        return application is not null && caller.CanAccess(application.Id) ? application : null;
    }

    /// <summary>
    /// The same, untracked and from <paramref name="cache"/> (a few seconds; any change to an application empties it): for
    /// routes that only read the application. One not found is looked up every time.
    /// </summary>
    public static async Task<Application?> FindApplicationAsync(this WebhooksDbContext db, ApiCaller caller, string idOrUid, LookupCache cache, CancellationToken cancellationToken)
    {
        var application = await cache.GetAsync("application", idOrUid, () => Ids.IsValid(idOrUid, Ids.Application)
            ? db.Applications.AsNoTracking().FirstOrDefaultAsync(a => a.Id == idOrUid, cancellationToken)
            : db.Applications.AsNoTracking().FirstOrDefaultAsync(a => a.Uid == idOrUid, cancellationToken), found => found is not null);
        return application is not null && caller.CanAccess(application.Id) ? application : null;
    }
}

/// <summary>Cursor pagination over ids that sort by creation time.</summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 250;

    public static int Clamp(int? limit) => Math.Clamp(limit ?? DefaultLimit, 1, MaxLimit);

    /// <summary>Builds the page from up to <paramref name="limit"/>+1 rows fetched: the extra row tells there is more.</summary>
    public static Webhooks.Client.ListResponse<TOut> Page<TRow, TOut>(List<TRow> rows, int limit, Func<TRow, string> idOf, Func<TRow, TOut> map)
    {
        var done = rows.Count <= limit;
        var page = done ? rows : rows[..limit];
        return new Webhooks.Client.ListResponse<TOut>(page.Select(map).ToList(), page.Count > 0 ? idOf(page[^1]) : null, done);
    }
}
