using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Svix;

/// <summary>
/// Svix's <c>/api/v1/event-type</c>: the deployment-wide catalogue (event types with no application). Every key may read
/// it; only an admin key changes it. Every application sees it through <c>/api/v1/apps/{app}/event-types</c> too, where
/// an application's own type of the same name wins. Its <c>schemas</c> document the payloads (as in Svix, messages are
/// not checked against them); an application's own type may carry a JSON Schema that is enforced.
/// </summary>
public static class SvixEventTypes
{
    public static void Map(RouteGroupBuilder svix)
    {
        var types = svix.MapGroup("/event-type");
        types.MapGet("", ListAsync);
        types.MapPost("", CreateAsync);
        types.MapGet("/{name}", GetAsync);
        types.MapPut("/{name}", UpsertAsync);
        types.MapPatch("/{name}", PatchAsync);
        types.MapDelete("/{name}", DeleteAsync);
    }

    internal static SvixEventTypeOut ToSvix(this EventType t, bool withContent = true)
    {
        JsonElement? schemas = null;
        if (withContent && t.Schemas is not null)
        {
            using var document = JsonDocument.Parse(t.Schemas);
            schemas = document.RootElement.Clone();
        }
        return new SvixEventTypeOut(t.Name, t.Description ?? "", t.Archived, t.Deprecated, schemas, t.FeatureFlag, t.CreatedAt, t.UpdatedAt);
    }

    private static SvixEventTypeUpdate ToSvixUpdate(this EventType t)
    {
        var o = t.ToSvix();
        return new SvixEventTypeUpdate(o.Description, o.Archived, o.Deprecated, o.Schemas, o.FeatureFlag);
    }

    private static IQueryable<EventType> Catalogue(this WebhooksDbContext db) => db.EventTypes.Where(t => t.ApplicationId == null);

    private static Dictionary<string, string[]>? Check(string? name, SvixEventTypeUpdate input)
    {
        var errors = RequestShape.Problems(input);
        if (name is not null && (!SvixChecks.IsUid(name) || name.StartsWith('-')))
        {
            // A list's iterator is the last name of a page, and one starting with '-' means 'the page before'.
            errors["name"] = ["'name' must be 1 to 256 letters, digits, '-', '_' or '.', and must not start with '-'."];
        }
        if (input.Description is null)
        {
            errors["description"] = ["'description' is required."];
        }
        else if (input.Description.Length > 4096 || !Text.IsPrintable(input.Description))
        {
            errors["description"] = ["'description' must be at most 4096 characters, without control characters."];
        }
        if (input.Schemas is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } schemas)
        {
            if (schemas.ValueKind != JsonValueKind.Object || schemas.EnumerateObject().Any(s => s.Value.ValueKind != JsonValueKind.Object))
            {
                errors["schemas"] = ["'schemas' must be an object of JSON Schemas by version, e.g. {\"1\": {…}}."];
            }
            else if (schemas.GetRawText().Length > PayloadSchemas.MaxSchemaBytes)
            {
                errors["schemas"] = [$"'schemas' must be at most {PayloadSchemas.MaxSchemaBytes} bytes."];
            }
            else if (!StorableJson.IsStorable(schemas))
            {
                errors["schemas"] = [$"'schemas' {StorableJson.Rule}."];
            }
        }
        if (input.FeatureFlag is not null && !SvixChecks.IsUid(input.FeatureFlag))
        {
            errors["featureFlag"] = ["'featureFlag' must be 1 to 256 letters, digits, '-', '_' or '.'."];
        }
        return errors.Count == 0 ? null : errors;
    }

    private static string? SchemasOf(SvixEventTypeUpdate input) =>
        input.Schemas is { ValueKind: JsonValueKind.Object } schemas ? schemas.GetRawText() : null;

    private static ProblemHttpResult? AdminOnly(HttpContext http) =>
        ApiCaller.From(http.User).IsAdmin ? null : TypedResults.Problem(statusCode: 403, detail: "Only an admin key can change the deployment's event types.");

    private static async Task<IResult> ListAsync(
        WebhooksDbContext db, int? limit, string? iterator, [FromQuery(Name = "include_archived")] bool? includeArchived,
        [FromQuery(Name = "with_content")] bool? withContent, CancellationToken ct)
    {
        if (limit is < 1 or > Paging.MaxLimit)
        {
            return SvixChecks.Invalid("limit", $"'limit' must be 1 to {Paging.MaxLimit}.");
        }
        var query = db.Catalogue().AsNoTracking().Where(t => includeArchived == true || !t.Archived);
        var content = withContent ?? false;
        // Always by name, ascending, as Svix lists them.
        return TypedResults.Ok(await SvixPaging.PageAsync(query, t => t.Name, descending: false, iterator, limit, t => t.ToSvix(content), ct));
    }

    private static async Task<IResult> CreateAsync(SvixEventTypeIn input, WebhooksDbContext db, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (AdminOnly(http) is { } forbidden)
        {
            return forbidden;
        }
        var update = new SvixEventTypeUpdate(input.Description, input.Archived, input.Deprecated, input.Schemas, input.FeatureFlag);
        if (Check(input.Name ?? "", update) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var existing = await db.Catalogue().FirstOrDefaultAsync(t => t.Name == input.Name, ct);
        if (existing is { Archived: false })
        {
            return SvixLookup.Conflict($"An event type named '{input.Name}' exists.", "event_type_exists");
        }
        // An archived one is brought back with the new content, as Svix does.
        var type = existing ?? db.EventTypes.Add(new EventType(null, input.Name!, input.Description, null, time.GetUtcNow())).Entity;
        Apply(type, update, time);
        return await SaveAsync(db, type, created: true, ct);
    }

    private static void Apply(EventType type, SvixEventTypeUpdate input, TimeProvider time) =>
        type.UpdateCatalogue(input.Description ?? "", SchemasOf(input), input.Archived ?? false, input.Deprecated ?? false, input.FeatureFlag, time.GetUtcNow());

    private static async Task<IResult> SaveAsync(WebhooksDbContext db, EventType type, bool created, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return SvixLookup.Conflict($"An event type named '{type.Name}' exists.", "event_type_exists");
        }
        return created ? TypedResults.Created($"/api/v1/event-type/{type.Name}", type.ToSvix()) : TypedResults.Ok(type.ToSvix());
    }

    private static async Task<IResult> GetAsync(string name, WebhooksDbContext db, CancellationToken ct) =>
        await db.Catalogue().AsNoTracking().FirstOrDefaultAsync(t => t.Name == name, ct) is { } type
            ? TypedResults.Ok(type.ToSvix())
            : SvixLookup.NotFound("Event type");

    private static async Task<IResult> UpsertAsync(
        string name, SvixEventTypeUpdate input, WebhooksDbContext db, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (AdminOnly(http) is { } forbidden)
        {
            return forbidden;
        }
        if (Check(name, input) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var type = await db.Catalogue().FirstOrDefaultAsync(t => t.Name == name, ct);
        var created = type is null;
        type ??= db.EventTypes.Add(new EventType(null, name, input.Description, null, time.GetUtcNow())).Entity;
        Apply(type, input, time);
        return await SaveAsync(db, type, created, ct);
    }

    private static async Task<IResult> PatchAsync(
        string name, [FromBody] JsonElement patch, WebhooksDbContext db, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (AdminOnly(http) is { } forbidden)
        {
            return forbidden;
        }
        var type = await db.Catalogue().FirstOrDefaultAsync(t => t.Name == name, ct);
        if (type is null)
        {
            return SvixLookup.NotFound("Event type");
        }
        var (input, refused) = SvixChecks.Merge(type.ToSvixUpdate(), patch);
        if (input is null)
        {
            return refused!;
        }
        if (Check(null, input) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        Apply(type, input, time);
        return await SaveAsync(db, type, created: false, ct);
    }

    /// <summary>Archives the event type (hidden from the list unless <c>include_archived</c>), or with <c>expunge=true</c> deletes it.</summary>
    private static async Task<IResult> DeleteAsync(
        string name, [FromQuery] bool? expunge, WebhooksDbContext db, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (AdminOnly(http) is { } forbidden)
        {
            return forbidden;
        }
        var type = await db.Catalogue().FirstOrDefaultAsync(t => t.Name == name, ct);
        if (type is null)
        {
            return SvixLookup.NotFound("Event type");
        }
        if (expunge == true)
        {
            db.EventTypes.Remove(type);
        }
        else
        {
            type.UpdateCatalogue(type.Description ?? "", type.Schemas, archived: true, type.Deprecated, type.FeatureFlag, time.GetUtcNow());
        }
        await db.SaveChangesAsync(ct);
        return TypedResults.NoContent();
    }
}
