using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core;
using Webhooks.Core.Data;

namespace Webhooks.Api.Messages;

/// <summary>
/// Filtered, cursor-paged lists of deliveries and attempts. An endpoint's lists read newest first (what happened
/// lately); a message's read oldest first (its history in order). Callers validate the query first.
/// </summary>
public static class DeliveryLists
{
    public static async Task<ListResponse<DeliveryOut>> PageAsync(this IQueryable<Core.Data.Delivery> deliveries, DeliveryQuery query, CancellationToken ct, bool oldestFirst = false)
    {
        var take = Paging.Clamp(query.Limit);
        deliveries = deliveries.AsNoTracking();
        if (query.Status is not null)
        {
            var status = SnakeCase.Parse<DeliveryStatus>(query.Status);
            deliveries = deliveries.Where(d => d.Status == status);
        }
        if (query.Since is { } since)
        {
            since = TimeFilter.Utc(since);
            deliveries = deliveries.Where(d => d.CreatedAt >= since);
        }
        if (query.Iterator is not null)
        {
            var after = long.Parse(query.Iterator, System.Globalization.CultureInfo.InvariantCulture);
            deliveries = oldestFirst ? deliveries.Where(d => d.Id > after) : deliveries.Where(d => d.Id < after);
        }
        deliveries = oldestFirst ? deliveries.OrderBy(d => d.Id) : deliveries.OrderByDescending(d => d.Id);
        var rows = await deliveries.Take(take + 1).ToListAsync(ct);
        return Paging.Page(rows, take, d => d.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), d => d.ToOut());
    }

    public static async Task<ListResponse<AttemptOut>> PageAsync(this IQueryable<DeliveryAttempt> attempts, AttemptQuery query, CancellationToken ct, bool oldestFirst = false)
    {
        var take = Paging.Clamp(query.Limit);
        attempts = attempts.AsNoTracking();
        if (query.Status is not null)
        {
            var succeeded = query.Status == "succeeded";
            attempts = attempts.Where(a => a.Succeeded == succeeded);
        }
        if (query.Since is { } since)
        {
            // Ids start with their time: the bound lets the (endpoint_id, id) index skip older rows.
            var bound = TimeFilter.IdsFrom(Ids.Attempt, since);
            since = TimeFilter.Utc(since);
            attempts = attempts.Where(a => string.Compare(a.Id, bound) >= 0 && a.StartedAt >= since);
        }
        if (query.Iterator is not null)
        {
            attempts = oldestFirst ? attempts.Where(a => string.Compare(a.Id, query.Iterator) > 0) : attempts.Where(a => string.Compare(a.Id, query.Iterator) < 0);
        }
        attempts = oldestFirst ? attempts.OrderBy(a => a.Id) : attempts.OrderByDescending(a => a.Id);
        var rows = await attempts.Take(take + 1).ToListAsync(ct);
        return Paging.Page(rows, take, a => a.Id, a => a.ToOut());
    }
}
