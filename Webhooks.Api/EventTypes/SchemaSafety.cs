using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Webhooks.Api.EventTypes;

/// <summary>
/// Whether a JSON Schema can be evaluated safely, checked on its JSON before any schema library sees it.
/// <para>
/// Its recursion must be bounded. Evaluation recurses once per in-place step (a <c>$ref</c>, <c>allOf</c>/<c>anyOf</c>/
/// <c>oneOf</c>, <c>not</c>, <c>if</c>/<c>then</c>/<c>else</c>, <c>dependentSchemas</c>: the same value checked again) and
/// once per step into the payload (<c>properties</c>, <c>items</c>, <c>additionalProperties</c>…). Steps into the payload
/// are bounded by its depth (64 levels at most), so recursion through them is fine (trees); in-place steps are not, so
/// they must neither form a cycle (<c>{"not":{"$ref":"#"}}</c> overflows the stack, which no handler can catch: the
/// process dies) nor chain deeper than <see cref="MaxInPlaceDepth"/>. Both bounds together keep an evaluation well
/// within a thread's stack.
/// </para>
/// <para>
/// And the values the evaluator computes with must be usable: every <c>pattern</c> and <c>patternProperties</c> name a
/// regular expression that compiles, every <c>multipleOf</c> a number above zero (as a decimal: <c>1e-400</c> is zero).
/// </para>
/// </summary>
public static class SchemaSafety
{
    /// <summary>The most in-place steps in a row (at one level of the payload).</summary>
    public const int MaxInPlaceDepth = 16;

    public sealed record Refusal(string Message, bool Unsafe);

    /// <summary>
    /// Null when the schema is safe to evaluate; otherwise why not: a <c>$ref</c> that does not point at a location in the
    /// schema, a pattern that does not compile or a <c>multipleOf</c> not above zero (the schema is invalid), or in-place
    /// steps that form a cycle or nest too deep (<see cref="Refusal.Unsafe"/>: well formed, but it cannot be evaluated safely).
    /// </summary>
    public static Refusal? Check(JsonElement root)
    {
        // Every schema reachable from the root (by applicators and $refs), by its canonical JSON pointer, with the
        // schemas it applies in place.
        var inPlace = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var pending = new Stack<(string Pointer, JsonElement Schema)>();
        pending.Push(("", root));
        while (pending.Count > 0)
        {
            var (pointer, schema) = pending.Pop();
            if (inPlace.ContainsKey(pointer))
            {
                continue;
            }
            var steps = new List<string>();
            inPlace[pointer] = steps;
            if (schema.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            if (UnusableValue(schema) is { } unusable)
            {
                return new Refusal($"'schema' at '#{pointer}': {unusable}", Unsafe: false);
            }
            foreach (var keyword in schema.EnumerateObject())
            {
                var at = pointer + "/" + Escape(keyword.Name);
                var value = keyword.Value;
                switch (keyword.Name)
                {
                    case "$ref":
                        if (value.ValueKind != JsonValueKind.String || Resolve(root, value.GetString()!) is not { } target)
                        {
                            return new Refusal(
                                $"'schema' may refer only to a location inside itself ('#' or '#/…'): the $ref at '#{pointer}' does not.", Unsafe: false);
                        }
                        steps.Add(target.Pointer);
                        pending.Push(target);
                        break;
                    case "allOf" or "anyOf" or "oneOf" when value.ValueKind == JsonValueKind.Array:
                        foreach (var (element, i) in value.EnumerateArray().Select((e, i) => (e, i)))
                        {
                            steps.Add(at + "/" + i.ToString(CultureInfo.InvariantCulture));
                            pending.Push((steps[^1], element));
                        }
                        break;
                    case "not" or "if" or "then" or "else":
                        steps.Add(at);
                        pending.Push((at, value));
                        break;
                    case "dependentSchemas" or "dependencies" when value.ValueKind == JsonValueKind.Object:
                        foreach (var dependent in value.EnumerateObject().Where(d => d.Value.ValueKind == JsonValueKind.Object))
                        {
                            steps.Add(at + "/" + Escape(dependent.Name));
                            pending.Push((steps[^1], dependent.Value));
                        }
                        break;
                    case "properties" or "patternProperties" when value.ValueKind == JsonValueKind.Object:
                        foreach (var property in value.EnumerateObject())
                        {
                            pending.Push((at + "/" + Escape(property.Name), property.Value));
                        }
                        break;
                    case "items" or "prefixItems" when value.ValueKind == JsonValueKind.Array:
                        foreach (var (element, i) in value.EnumerateArray().Select((e, i) => (e, i)))
                        {
                            pending.Push((at + "/" + i.ToString(CultureInfo.InvariantCulture), element));
                        }
                        break;
                    case "items" or "additionalItems" or "additionalProperties" or "contains" or "propertyNames"
                        or "unevaluatedItems" or "unevaluatedProperties":
                        pending.Push((at, value));
                        break;
                }
            }
        }

        // The longest run of in-place steps from each schema; the search stops at a cycle or past the bound, so it
        // recurses at most MaxInPlaceDepth + 1 deep whatever the schema.
        var longest = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new HashSet<string>(StringComparer.Ordinal);
        string? cycleAt = null;
        int Longest(string pointer)
        {
            if (longest.TryGetValue(pointer, out var known))
            {
                return known;
            }
            if (path.Count > MaxInPlaceDepth)
            {
                return MaxInPlaceDepth + 1;
            }
            if (!path.Add(pointer))
            {
                cycleAt = pointer;
                return MaxInPlaceDepth + 1;
            }
            var best = 0;
            foreach (var next in inPlace[pointer])
            {
                best = Math.Max(best, Longest(next) + 1);
                if (best > MaxInPlaceDepth)
                {
                    return best;
                }
            }
            path.Remove(pointer);
            longest[pointer] = best;
            return best;
        }
        foreach (var pointer in inPlace.Keys)
        {
            path.Clear();
            if (Longest(pointer) > MaxInPlaceDepth)
            {
                return cycleAt is not null
                    ? new Refusal(
                        $"'schema' refers to itself without going into the payload (at '#{cycleAt}'): $ref, allOf, anyOf, oneOf, not, " +
                        "if, then and else apply to the same value, so that cycle never ends. Recursion must go through properties, items or additionalProperties.",
                        Unsafe: true)
                    : new Refusal(
                        $"'schema' nests $ref, allOf, anyOf, oneOf, not, if, then and else more than {MaxInPlaceDepth} deep at one level of the payload.",
                        Unsafe: true);
            }
        }
        return null;
    }

    private static string? UnusableValue(JsonElement schema)
    {
        if (schema.TryGetProperty("multipleOf", out var multipleOf) &&
            !(multipleOf.ValueKind == JsonValueKind.Number && decimal.TryParse(multipleOf.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var divisor) && divisor > 0))
        {
            return "'multipleOf' must be a number above zero.";
        }
        var patterns = new List<string>();
        if (schema.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.String)
        {
            patterns.Add(pattern.GetString()!);
        }
        if (schema.TryGetProperty("patternProperties", out var patternProperties) && patternProperties.ValueKind == JsonValueKind.Object)
        {
            patterns.AddRange(patternProperties.EnumerateObject().Select(p => p.Name));
        }
        foreach (var regex in patterns)
        {
            try
            {
                _ = new Regex(regex);
            }
            catch (ArgumentException ex)
            {
                return $"the pattern '{regex}' is not a regular expression: {ex.Message}";
            }
        }
        return null;
    }

    /// <summary>The schema a local reference (<c>#</c> or a JSON pointer <c>#/…</c>) points at, with its canonical pointer.</summary>
    private static (string Pointer, JsonElement Schema)? Resolve(JsonElement root, string reference)
    {
        if (reference is not ['#', ..])
        {
            return null;
        }
        var fragment = Uri.UnescapeDataString(reference[1..]);
        if (fragment.Length == 0)
        {
            return ("", root);
        }
        if (fragment[0] != '/')
        {
            return null;
        }
        var pointer = "";
        var at = root;
        foreach (var token in fragment[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)))
        {
            if (at.ValueKind == JsonValueKind.Object && at.TryGetProperty(token, out var property))
            {
                at = property;
                pointer += "/" + Escape(token);
            }
            else if (at.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) &&
                     index < at.GetArrayLength())
            {
                at = at[index];
                pointer += "/" + index.ToString(CultureInfo.InvariantCulture);
            }
            else
            {
                return null;
            }
        }
        return (pointer, at);
    }

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
