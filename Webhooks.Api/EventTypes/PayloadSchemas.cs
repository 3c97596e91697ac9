using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using NJsonSchema;
using NJsonSchema.References;
using NJsonSchema.Validation;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.EventTypes;

/// <summary>
/// The JSON Schemas of event types: checks a schema when it is stored, and payloads when they are published.
/// Parsed schemas are cached by event type and version (its update time). References may point only inside
/// the schema: a <c>$ref</c> to a URL or file would make the API fetch on a tenant's behalf. A schema that cannot be
/// evaluated in bounded depth (<see cref="SchemaSafety"/>) is refused when stored, and — if stored before that
/// rule — refuses the messages of its type rather than being evaluated.
/// </summary>
public sealed partial class PayloadSchemas(LookupCache lookups)
{
    public const int MaxSchemaBytes = 64 * 1024;

    private sealed record ConstrainedType(string Id, string Name, string? Schema, bool Archived, DateTimeOffset UpdatedAt);
    private readonly ConcurrentDictionary<(string Id, DateTimeOffset Version), Parsed> cache = new();

    /// <summary>
    /// A schema ready to evaluate, or why not: <see cref="Unsafe"/> when it is well formed but cannot be evaluated
    /// safely (a cycle of in-place references), otherwise it is not a usable JSON Schema.
    /// </summary>
    public sealed record Parsed(JsonSchema? Schema, string? Error, bool Unsafe = false);

    /// <summary>Parses a schema for storing; the error names what is wrong with it.</summary>
    public static async Task<Parsed> ParseAsync(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return new Parsed(null, "'schema' must be a JSON Schema object.");
        }
        var text = schema.GetRawText();
        if (text.Length > MaxSchemaBytes)
        {
            return new Parsed(null, $"'schema' must be at most {MaxSchemaBytes} bytes.");
        }
        if (!StorableJson.IsStorable(schema))
        {
            return new Parsed(null, $"'schema' {StorableJson.Rule}.");
        }
        // Before the schema library sees it: its validator recurses without bound on an in-place cycle.
        if (SchemaSafety.Check(schema) is { } refusal)
        {
            return new Parsed(null, refusal.Message, refusal.Unsafe);
        }
        try
        {
            return new Parsed(await JsonSchema.FromJsonAsync(text, null, s => new LocalReferencesOnly(s)), null);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or Newtonsoft.Json.JsonException or ArgumentException)
        {
            return new Parsed(null, $"'schema' is not a usable JSON Schema: {ex.Message}");
        }
    }

    /// <summary>
    /// Checks each message against its event type: an archived type refuses new messages, a schema must match, and a
    /// stored schema that cannot be evaluated refuses them too. Returns the failures keyed by field
    /// (<paramref name="fieldPrefix"/> + <c>payload.path</c>, or <c>eventType</c>), or an empty map.
    /// </summary>
    public async Task<Dictionary<string, string[]>> CheckAsync(
        WebhooksDbContext db, string applicationId, IReadOnlyList<(string EventType, JsonElement Payload)> messages,
        Func<int, string> fieldPrefix, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        // The application's event types that can refuse a message (archived, or with a schema): few, looked up for
        // every publish, so kept for a few seconds (LookupCache; a change through this process empties it).
        var types = await lookups.GetAsync("constrained-event-types", applicationId, () => db.EventTypes.AsNoTracking()
            .Where(t => t.ApplicationId == applicationId && (t.Archived || t.Schema != null))
            .Select(t => new ConstrainedType(t.Id, t.Name, t.Schema, t.Archived, t.UpdatedAt))
            .ToDictionaryAsync(t => t.Name, ct));
        if (types.Count == 0)
        {
            return errors;
        }
        for (var i = 0; i < messages.Count; i++)
        {
            if (!types.TryGetValue(messages[i].EventType, out var type))
            {
                continue;
            }
            if (type.Archived)
            {
                errors[fieldPrefix(i) + "eventType"] = [$"The event type '{type.Name}' is archived."];
                continue;
            }
            if (!cache.TryGetValue((type.Id, type.UpdatedAt), out var parsed))
            {
                using var document = JsonDocument.Parse(type.Schema!);
                parsed = cache[(type.Id, type.UpdatedAt)] = await ParseAsync(document.RootElement);
            }
            if (parsed.Schema is null)
            {
                errors[fieldPrefix(i) + "eventType"] = [$"The schema of the event type '{type.Name}' cannot be evaluated; replace it to publish. {parsed.Error}"];
                continue;
            }
            foreach (var (field, message) in Validate(parsed.Schema, messages[i].Payload))
            {
                var key = fieldPrefix(i) + field;
                errors[key] = errors.TryGetValue(key, out var existing) ? [.. existing, message] : [message];
            }
        }
        return errors;
    }

    /// <summary>The schema's first example, if it has one that is an object: the payload of a test event.</summary>
    public static JsonElement? ExampleOf(string? schema)
    {
        if (schema is null)
        {
            return null;
        }
        using var document = JsonDocument.Parse(schema);
        return document.RootElement.TryGetProperty("examples", out var examples) && examples.ValueKind == JsonValueKind.Array &&
               examples.GetArrayLength() > 0 && examples[0].ValueKind == JsonValueKind.Object
            ? examples[0].Clone()
            : null;
    }

    private static IEnumerable<(string Field, string Message)> Validate(JsonSchema schema, JsonElement payload)
    {
        ICollection<ValidationError> errors;
        try
        {
            errors = schema.Validate(payload.GetRawText());
        }
        catch (RegexMatchTimeoutException)
        {
            return [("payload", "A 'pattern' of the event type's schema took too long to match.")];
        }
        catch (Exception ex) when (ex is InvalidCastException or OverflowException)
        {
            // The library reads every integer it checks as a 64-bit or decimal number: a larger one cannot be checked.
            return [("payload", "A number in the payload is too large for the event type's schema to check.")];
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or ArithmeticException)
        {
            // Reference cycles, patterns that do not compile, a zero multipleOf: SchemaSafety refuses those schemas when
            // they are stored; this is the backstop for any the library still cannot evaluate.
            return [("payload", $"The event type's schema cannot be evaluated: {ex.Message}")];
        }
        return errors.SelectMany(Flatten).Select(e => (FieldOf(e.Path), Describe(e)));
    }

    private static IEnumerable<ValidationError> Flatten(ValidationError error) =>
        error is ChildSchemaValidationError child && child.Errors.Count > 0
            ? child.Errors.SelectMany(kv => kv.Value).SelectMany(Flatten)
            : [error];

    // NJsonSchema paths read '#/customer.email' or '#/items[0].sku'.
    private static string FieldOf(string? path) =>
        path is null or "#" or "#/" ? "payload" : "payload." + path.TrimStart('#', '/');

    private static string Describe(ValidationError error) =>
        $"{Words().Replace(error.Kind.ToString(), " $1").Trim().ToLowerInvariant()}.";

    [GeneratedRegex("([A-Z])")]
    private static partial Regex Words();

    private sealed class LocalReferencesOnly(JsonSchema schema) : JsonReferenceResolver(new JsonSchemaAppender(schema, new DefaultTypeNameGenerator()))
    {
        public override Task<IJsonReference> ResolveFileReferenceAsync(string filePath, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Only references inside the schema ('#/…') are allowed.");

        public override Task<IJsonReference> ResolveUrlReferenceAsync(string url, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Only references inside the schema ('#/…') are allowed.");
    }
}
