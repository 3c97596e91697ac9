using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Dashboard;
using Webhooks.Api.EventTypes;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.EventTypes;

public sealed class IndexModel(WebhooksDbContext db, EventTypeService service) : DashboardPage(db)
{
    public IReadOnlyList<EventType> EventTypes { get; private set; } = [];
    public string? Name { get; private set; }
    public string? Description { get; private set; }
    public string? Schema { get; private set; }

    public async Task<IActionResult> OnGetAsync(string appId)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostCreateAsync(string appId, string? name, string? description, string? schema, [FromServices] IValidator<EventTypeIn> validator)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        var parsed = FormJson(schema, "schema");
        var input = new EventTypeIn(name?.Trim() ?? "", string.IsNullOrWhiteSpace(description) ? null : description.Trim(), parsed);
        if (ModelState.IsValid)
        {
            var validation = await validator.ValidateAsync(input, HttpContext.RequestAborted);
            AddErrors(validation);
            if (validation.IsValid && (await service.CreateAsync(Application!, input, HttpContext.RequestAborted)).Conflict)
            {
                ModelState.AddModelError("name", $"An event type named '{input.Name}' exists.");
            }
        }
        if (!ModelState.IsValid)
        {
            (Name, Description, Schema) = (name, description, schema);
            await LoadAsync();
            return Page();
        }
        Notice = $"Event type '{input.Name}' created.";
        return Redirect($"/dashboard/apps/{Application!.Id}/event-types");
    }

    public async Task<IActionResult> OnPostArchiveAsync(string appId, string? name)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        var type = await Db.EventTypes.FirstOrDefaultAsync(t => t.ApplicationId == Application!.Id && t.Name == name, HttpContext.RequestAborted);
        if (type is null)
        {
            return Missing($"Event type '{name}'");
        }
        await service.ArchiveAsync(type, HttpContext.RequestAborted);
        Notice = $"Event type '{type.Name}' archived.";
        return Redirect($"/dashboard/apps/{Application!.Id}/event-types");
    }

    private async Task LoadAsync()
    {
        // The application's own types, and the deployment's catalogue where it has none of that name.
        var id = Application!.Id;
        var types = Db.EventTypes.AsNoTracking()
            .Where(t => t.ApplicationId == id || (t.ApplicationId == null && !Db.EventTypes.Any(own => own.ApplicationId == id && own.Name == t.Name)));
        if (Portal is not null)
        {
            // A tenant's catalogue: no archived types, and none behind a feature flag (as Svix's portal hides them).
            types = types.Where(t => !t.Archived && t.FeatureFlag == null);
        }
        if (Portal?.AllowedEventTypes is { } allowed)
        {
            types = types.Where(t => allowed.Contains(t.Name));
        }
        EventTypes = await types.OrderBy(t => t.Archived).ThenBy(t => t.Name).Take(500).ToListAsync(HttpContext.RequestAborted);
    }

    /// <summary>An example payload of the type: its JSON Schema's first example, else the first of its versioned schemas'.</summary>
    public static string? ExampleOf(EventType type)
    {
        if (Webhooks.Api.EventTypes.PayloadSchemas.ExampleOf(type.Schema) is { } example)
        {
            return Display.Json(example);
        }
        if (type.Schemas is null)
        {
            return null;
        }
        using var schemas = System.Text.Json.JsonDocument.Parse(type.Schemas);
        return schemas.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
            ? schemas.RootElement.EnumerateObject().Select(v => Webhooks.Api.EventTypes.PayloadSchemas.ExampleOf(v.Value.GetRawText())).OfType<System.Text.Json.JsonElement>()
                .Select(e => Display.Json(e)).FirstOrDefault()
            : null;
    }
}
