using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.EventTypes;

/// <summary>Creating, changing and archiving event types, for the API and the dashboard alike; callers validate the input first.</summary>
public sealed class EventTypeService(WebhooksDbContext db, TimeProvider time, LookupCache cache)
{
    public sealed record Created(EventType? EventType, bool Conflict);

    public async Task<Created> CreateAsync(Application application, EventTypeIn input, CancellationToken ct)
    {
        if (await db.EventTypes.AnyAsync(t => t.ApplicationId == application.Id && t.Name == input.Name, ct))
        {
            return new Created(null, true);
        }
        var type = new EventType(application.Id, input.Name, input.Description, SchemaRules.TextOf(input.Schema), time.GetUtcNow());
        db.EventTypes.Add(type);
        try
        {
            await db.SaveChangesAsync(ct);
            cache.Invalidate();
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return new Created(null, true);
        }
        return new Created(type, false);
    }

    public async Task UpdateAsync(EventType type, EventTypeUpdateIn input, CancellationToken ct)
    {
        type.Update(input.Description, SchemaRules.TextOf(input.Schema), input.Archived, time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
    }

    public async Task ArchiveAsync(EventType type, CancellationToken ct)
    {
        type.Update(type.Description, type.Schema, archived: true, time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
    }
}
