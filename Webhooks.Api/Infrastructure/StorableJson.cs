using System.Text.Json;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// JSON that Postgres can keep: its jsonb and text hold no U+0000 and no unpaired surrogate, and JSON can write both as
/// escapes (<c>"\u0000"</c>, <c>"\uD800"</c>) that every JSON parser here accepts. Checked on the JSON a tenant gives
/// to be stored as it is (payloads, schemas), so it is refused as invalid rather than failing in the database.
/// </summary>
public static class StorableJson
{
    public const string Rule = "must not contain \\u0000 or an unpaired surrogate (\\uD800–\\uDFFF) in its strings or names";

    public static bool IsStorable(JsonElement element)
    {
        try
        {
            return Walk(element);
        }
        catch (InvalidOperationException)
        {
            // Reading a string or name with an unpaired surrogate as UTF-16.
            return false;
        }
    }

    private static bool Walk(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => !element.GetString()!.Contains('\0', StringComparison.Ordinal),
        JsonValueKind.Object => element.EnumerateObject().All(p => !p.Name.Contains('\0', StringComparison.Ordinal) && Walk(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().All(Walk),
        _ => true,
    };
}
