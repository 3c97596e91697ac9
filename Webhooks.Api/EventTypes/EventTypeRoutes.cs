using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Applications;
using Webhooks.Api.Endpoints;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.EventTypes;

/// <summary>An application's event types, named as messages name them, each with an optional JSON Schema for its payloads.</summary>
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
        return new EventTypeOut(t.Id, t.Name, t.Description, schema, t.Archived, t.CreatedAt, t.UpdatedAt);
    }

    private static async Task<Results<Created<EventTypeOut>, ProblemHttpResult>> CreateAsync(
        Tenant tenant, EventTypeIn input, WebhooksDbContext db, TimeProvider time, CancellationToken ct)
    {
        var application = tenant.Application;
        var result = await new EventTypeService(db, time).CreateAsync(application, input, ct);
        return result.Conflict
            ? Problems.ConflictProblem($"An event type named '{input.Name}' exists.")
            : TypedResults.Created($"/api/v1/apps/{application.Id}/event-types/{input.Name}", result.EventType!.ToOut());
    }

    private static async Task<Results<Ok<ListResponse<EventTypeOut>>, ProblemHttpResult>> ListAsync(
        Tenant tenant, bool? includeArchived, [AsParameters] PageQuery page, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        var take = Paging.Clamp(page.Limit);
        var query = db.EventTypes.AsNoTracking().Where(t => t.ApplicationId == application.Id && (includeArchived == true || !t.Archived));
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
        var type = await db.FindEventTypeAsync(tenant, name, ct);
        return type is null ? Problems.NotFound($"Event type '{name}'") : TypedResults.Ok(type.ToOut());
    }

    private static async Task<Results<Ok<EventTypeOut>, ProblemHttpResult>> UpdateAsync(
        Tenant tenant, string name, EventTypeUpdateIn input, WebhooksDbContext db, TimeProvider time, CancellationToken ct)
    {
        var type = await db.FindEventTypeAsync(tenant, name, ct);
        if (type is null)
        {
            return Problems.NotFound($"Event type '{name}'");
        }
        type.Update(input.Description, SchemaText(input.Schema), input.Archived, time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(type.ToOut());
    }

    private static async Task<Results<Ok<EventTypeOut>, ProblemHttpResult>> ArchiveAsync(
        Tenant tenant, string name, WebhooksDbContext db, TimeProvider time, CancellationToken ct)
    {
        var type = await db.FindEventTypeAsync(tenant, name, ct);
        if (type is null)
        {
            return Problems.NotFound($"Event type '{name}'");
        }
        await new EventTypeService(db, time).ArchiveAsync(type, ct);
        return TypedResults.Ok(type.ToOut());
    }

    private static Task<EventType?> FindEventTypeAsync(this WebhooksDbContext db, Tenant tenant, string name, CancellationToken ct) =>
        db.EventTypes.FirstOrDefaultAsync(t => t.ApplicationId == tenant.Application.Id && t.Name == name, ct);

    internal static string? SchemaText(JsonElement? schema) =>
        schema is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } s ? s.GetRawText() : null;
}

/// <summary>Creating and archiving event types, for the API and the dashboard alike.</summary>
public sealed class EventTypeService(WebhooksDbContext db, TimeProvider time)
{
    public sealed record Created(EventType? EventType, bool Conflict);

    public async Task<Created> CreateAsync(Application application, EventTypeIn input, CancellationToken ct)
    {
        if (await db.EventTypes.AnyAsync(t => t.ApplicationId == application.Id && t.Name == input.Name, ct))
        {
            return new Created(null, true);
        }
        var type = new EventType(application.Id, input.Name, input.Description, EventTypeRoutes.SchemaText(input.Schema), time.GetUtcNow());
        db.EventTypes.Add(type);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return new Created(null, true);
        }
        return new Created(type, false);
    }

    public async Task ArchiveAsync(EventType type, CancellationToken ct)
    {
        type.Update(type.Description, type.Schema, archived: true, time.GetUtcNow());
        await db.SaveChangesAsync(ct);
    }
}

public sealed class EventTypeInValidator : AbstractValidator<EventTypeIn>
{
    public EventTypeInValidator()
    {
        RuleFor(t => t.Name).NotEmpty().SetValidator(new EventTypeNameValidator());
        RuleFor(t => t.Description!).MaximumLength(4096).Must(Text.IsPrintable).When(t => t.Description is not null);
        RuleFor(t => t.Schema).SchemaIsUsable();
    }
}

public sealed class EventTypeUpdateInValidator : AbstractValidator<EventTypeUpdateIn>
{
    public EventTypeUpdateInValidator()
    {
        RuleFor(t => t.Description!).MaximumLength(4096).Must(Text.IsPrintable).When(t => t.Description is not null);
        RuleFor(t => t.Schema).SchemaIsUsable();
    }
}

internal static class SchemaRules
{
    public static void SchemaIsUsable<T>(this IRuleBuilder<T, JsonElement?> rule) =>
        rule.CustomAsync(async (schema, context, _) =>
        {
            if (EventTypeRoutes.SchemaText(schema) is not null && await PayloadSchemas.ParseAsync(schema!.Value) is { Error: { } error } parsed)
            {
                context.AddFailure(new FluentValidation.Results.ValidationFailure("schema", error)
                {
                    ErrorCode = parsed.Unsafe ? Problems.UnprocessableCode : null,
                });
            }
        });
}
