using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.EventTypes;

/// <summary>
/// An application's event types, named as messages name them, each with an optional JSON Schema for its payloads. The
/// deployment-wide catalogue (Svix's <c>/api/v1/event-type</c>) shows through: listed and found here unless the
/// application has its own type of that name, and changed only through its own routes.
/// </summary>
public static class EventTypeRoutes
{
    /// <param name="tenant">The <c>/apps/{appId}</c> group: one application, resolved by its filter.</param>
    public static RouteGroupBuilder MapEventTypeRoutes(this RouteGroupBuilder tenant)
    {
        var types = tenant.MapGroup("/event-types").WithTags("Event types");
        types.MapPost("/", CreateAsync).Validate<EventTypeIn>().ProducesValidationProblem(422);
        types.MapGet("/", ListAsync).Validate<PageQuery>();
        types.MapGet("/{name}", GetAsync);
        types.MapPut("/{name}", UpdateAsync).Validate<EventTypeUpdateIn>().ProducesValidationProblem(422);
        types.MapPost("/{name}/archive", ArchiveAsync);
        return tenant;
    }

    internal static EventTypeOut ToOut(this EventType t)
    {
        JsonElement? schema = null;
        if (t.Schema is not null)
        {
            using var document = JsonDocument.Parse(t.Schema);
            schema = document.RootElement.Clone();
        }
        return new EventTypeOut(t.Id, t.Name, t.Description, schema, t.Archived, t.CreatedAt, t.UpdatedAt, DeploymentWide: t.ApplicationId is null);
    }

    private static async Task<Results<Created<EventTypeOut>, ProblemHttpResult>> CreateAsync(
        Tenant tenant, EventTypeIn input, EventTypeService service, CancellationToken ct)
    {
        var application = tenant.Application;
        var result = await service.CreateAsync(application, input, ct);
        return result.Conflict
            ? Problems.ConflictProblem($"An event type named '{input.Name}' exists.")
            : TypedResults.Created($"/api/v1/apps/{application.Id}/event-types/{input.Name}", result.EventType!.ToOut());
    }

    private static async Task<Results<Ok<ListResponse<EventTypeOut>>, ProblemHttpResult>> ListAsync(
        Tenant tenant, bool? includeArchived, [AsParameters] PageQuery page, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        var take = Paging.Clamp(page.Limit);
        var query = db.EventTypes.AsNoTracking()
            .Where(t => t.ApplicationId == application.Id ||
                        (t.ApplicationId == null && !db.EventTypes.Any(own => own.ApplicationId == application.Id && own.Name == t.Name)))
            .Where(t => includeArchived == true || !t.Archived);
        if (page.Iterator is not null)
        {
            query = query.Where(t => string.Compare(t.Name, page.Iterator) > 0);
        }
        var rows = await query.OrderBy(t => t.Name).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, t => t.Name, t => t.ToOut()));
    }

    private static async Task<Results<Ok<EventTypeOut>, ProblemHttpResult>> GetAsync(
        Tenant tenant, string name, WebhooksDbContext db, CancellationToken ct)
    {
        var type = await db.FindEventTypeAsync(tenant, name, ct) ??
                   await db.EventTypes.AsNoTracking().FirstOrDefaultAsync(t => t.ApplicationId == null && t.Name == name, ct);
        return type is null ? Problems.NotFound($"Event type '{name}'") : TypedResults.Ok(type.ToOut());
    }

    private static async Task<Results<Ok<EventTypeOut>, ProblemHttpResult>> UpdateAsync(
        Tenant tenant, string name, EventTypeUpdateIn input, WebhooksDbContext db, EventTypeService service, CancellationToken ct)
    {
        var type = await db.FindEventTypeAsync(tenant, name, ct);
        if (type is null)
        {
            return await NotOwnAsync(db, name, ct);
        }
        await service.UpdateAsync(type, input, ct);
        return TypedResults.Ok(type.ToOut());
    }

    private static async Task<Results<Ok<EventTypeOut>, ProblemHttpResult>> ArchiveAsync(
        Tenant tenant, string name, WebhooksDbContext db, EventTypeService service, CancellationToken ct)
    {
        var type = await db.FindEventTypeAsync(tenant, name, ct);
        if (type is null)
        {
            return await NotOwnAsync(db, name, ct);
        }
        await service.ArchiveAsync(type, ct);
        return TypedResults.Ok(type.ToOut());
    }

    /// <summary>No own type of that name: a deployment-wide one is changed at its own route (admin key), else there is none.</summary>
    private static async Task<ProblemHttpResult> NotOwnAsync(WebhooksDbContext db, string name, CancellationToken ct) =>
        await db.EventTypes.AnyAsync(t => t.ApplicationId == null && t.Name == name, ct)
            ? Problems.ConflictProblem($"'{name}' is a deployment-wide event type: change it at /api/v1/event-type/{name} with an admin key.")
            : Problems.NotFound($"Event type '{name}'");

    private static Task<EventType?> FindEventTypeAsync(this WebhooksDbContext db, Tenant tenant, string name, CancellationToken ct) =>
        db.EventTypes.FirstOrDefaultAsync(t => t.ApplicationId == tenant.Application.Id && t.Name == name, ct);
}
