using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Webhooks.Core.Delivery;

/// <summary>An error in a payload filter: the offending place (<c>filter.amount.$gte</c>, <c>filter.$or[1]</c>) and what is wrong.</summary>
public sealed record PayloadFilterError(string Field, string Message);

/// <summary>
/// An endpoint's payload filter: the JSON the user wrote (<see cref="Json"/>) and its translation into a Postgres
/// SQL/JSON path predicate (<see cref="Path"/>), evaluated by <c>payload @@ path</c> in the fan-out statement
/// (<see cref="DeliveryLifecycle.PassesFilter"/>), so a message goes only to the endpoints whose filter it passes.
/// <para>
/// A filter is an object: each key is a dot-separated path into the payload (<c>customer.tier</c>, <c>items.0.sku</c>; a
/// segment of digits indexes an array) and its value a literal (equality) or an object of operators <c>$eq $neq $gt
/// $gte $lt $lte $in $nin $exists</c>; <c>$and</c> / <c>$or</c> hold arrays of such objects. All entries must hold.
/// </para>
/// <para>
/// Semantics (strict SQL/JSON path mode): a path names exactly one value — no array is searched element by element,
/// and a digit segment only indexes an array. A comparison holds only between values of the same type (numbers as
/// numbers, exactly; strings by Unicode code point; <c>true</c>/<c>false</c>/<c>null</c> by equality), so <c>"100"</c>
/// never equals <c>100</c> and an ordering on a missing field or another type fails. The negations <c>$neq</c>,
/// <c>$nin</c> and <c>$exists: false</c> hold exactly when their positive form does not — also on a missing field
/// (as in MongoDB). A literal <c>null</c> matches an explicit JSON null, not a missing field.
/// </para>
/// <para>
/// The caller checks first that the JSON is storable in Postgres (no <c>\u0000</c>, numbers within <c>numeric</c>); the
/// translation quotes every name and string, so no key or value can end a string early and change the path.
/// </para>
/// </summary>
public sealed record PayloadFilter(string Json, string Path)
{
    /// <summary>The longest filter, in UTF-8 bytes of its JSON.</summary>
    public const int MaxBytes = 8 * 1024;
    /// <summary>How deep <c>$and</c> / <c>$or</c> may nest.</summary>
    public const int MaxDepth = 5;
    /// <summary>The most conditions (one per operator, or per literal) in a filter.</summary>
    public const int MaxConditions = 64;
    /// <summary>The most values of one <c>$in</c> / <c>$nin</c>.</summary>
    public const int MaxInValues = 100;
    /// <summary>The most segments of one path.</summary>
    public const int MaxSegments = 16;
    /// <summary>The longest segment of a path, in characters.</summary>
    public const int MaxSegmentLength = 256;

    // Array indexes are SQL/JSON path integers: up to nine digits stay within int32.
    private const int MaxIndexDigits = 9;

    private static readonly string[] Comparisons = ["$eq", "$neq", "$gt", "$gte", "$lt", "$lte"];

    /// <summary>The operators a path's value may hold.</summary>
    public static readonly IReadOnlyList<string> Operators = [.. Comparisons, "$in", "$nin", "$exists"];

    /// <summary>Validates <paramref name="filter"/> and translates it; null and the errors (each naming its place) when it is invalid.</summary>
    public static (PayloadFilter? Filter, IReadOnlyList<PayloadFilterError> Errors) Parse(JsonElement filter)
    {
        var errors = new List<PayloadFilterError>();
        var json = filter.GetRawText();
        if (filter.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("filter", "'filter' must be a JSON object (or null for none)."));
        }
        else if (Encoding.UTF8.GetByteCount(json) > MaxBytes)
        {
            errors.Add(new("filter", $"'filter' must be at most {MaxBytes} bytes of JSON."));
        }
        else
        {
            var translator = new Translator(errors);
            string predicate;
            try
            {
                predicate = translator.Conjunction(filter, "filter", 0);
            }
            catch (InvalidOperationException)
            {
                // A string or name with an unpaired surrogate, read as UTF-16.
                errors.Add(new("filter", "'filter' must not contain an unpaired surrogate (\\uD800–\\uDFFF)."));
                return (null, errors);
            }
            if (errors.Count == 0 && translator.Conditions > MaxConditions)
            {
                errors.Add(new("filter", $"'filter' has {translator.Conditions} conditions; at most {MaxConditions}."));
            }
            if (errors.Count == 0)
            {
                return (new PayloadFilter(json, "strict " + predicate), errors);
            }
        }
        return (null, errors);
    }

    /// <summary>Builds the SQL/JSON path predicate, collecting errors instead of stopping at the first.</summary>
    private sealed class Translator(List<PayloadFilterError> errors)
    {
        public int Conditions { get; private set; }

        /// <summary>Every entry of the object must hold.</summary>
        public string Conjunction(JsonElement filter, string field, int depth)
        {
            var parts = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in filter.EnumerateObject())
            {
                var key = entry.Name;
                var place = $"{field}.{key}";
                if (!seen.Add(key))
                {
                    Fail(place, "appears twice.");
                    continue;
                }
                parts.Add(key switch
                {
                    "$and" => Combination(entry.Value, place, depth, " && "),
                    "$or" => Combination(entry.Value, place, depth, " || "),
                    _ when key.StartsWith('$') => Fail(place, "is not a combinator: only $and and $or may stand where a path is expected."),
                    _ => Condition(key, entry.Value, place),
                });
            }
            if (parts.Count == 0)
            {
                return Fail(field, "needs at least one condition.");
            }
            return parts.Count == 1 ? parts[0] : string.Join(" && ", parts.Select(p => $"({p})"));
        }

        private string Combination(JsonElement items, string field, int depth, string join)
        {
            if (depth + 1 > MaxDepth)
            {
                return Fail(field, $"nests $and / $or more than {MaxDepth} deep.");
            }
            if (items.ValueKind != JsonValueKind.Array || items.GetArrayLength() == 0)
            {
                return Fail(field, "must be a non-empty array of filter objects.");
            }
            var parts = new List<string>();
            var i = 0;
            foreach (var item in items.EnumerateArray())
            {
                var place = $"{field}[{i++}]";
                parts.Add(item.ValueKind == JsonValueKind.Object
                    ? Conjunction(item, place, depth + 1)
                    : Fail(place, "must be a filter object."));
            }
            return string.Join(join, parts.Select(p => $"({p})"));
        }

        /// <summary>One path's condition: a literal (equality) or an object of operators, all of which must hold.</summary>
        private string Condition(string key, JsonElement value, string field)
        {
            if (PathOf(key, field) is not { } path)
            {
                return "";
            }
            if (value.ValueKind == JsonValueKind.Array)
            {
                return Fail(field, "is an array, which is not a value to compare with; use $in for one of several values.");
            }
            if (value.ValueKind != JsonValueKind.Object)
            {
                return Operator(path, "$eq", value, field);
            }
            var parts = new List<string>();
            foreach (var op in value.EnumerateObject())
            {
                var name = op.Name;
                var place = $"{field}.{name}";
                parts.Add(Operators.Contains(name)
                    ? Operator(path, name, op.Value, place)
                    : Fail(place, name.StartsWith('$')
                        ? $"is not an operator; use one of {string.Join(", ", Operators)}."
                        : $"is in an object, which is not a value to compare with: write the path '{key}.{name}', or use operators ({string.Join(", ", Operators)})."));
            }
            if (parts.Count == 0)
            {
                return Fail(field, "needs at least one operator.");
            }
            return parts.Count == 1 ? parts[0] : string.Join(" && ", parts.Select(p => $"({p})"));
        }

        private string Operator(string path, string op, JsonElement value, string field)
        {
            Conditions++;
            switch (op)
            {
                case "$exists":
                    if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        return Fail(field, "must be true or false.");
                    }
                    return value.ValueKind == JsonValueKind.True ? $"exists({path})" : Not($"exists({path})");
                case "$in" or "$nin":
                    if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() is 0 or > MaxInValues)
                    {
                        return Fail(field, $"must be an array of 1 to {MaxInValues} values.");
                    }
                    var i = 0;
                    var alternatives = value.EnumerateArray().Select(v => $"@ == {Literal(v, $"{field}[{i++}]", ordered: false)}").ToList();
                    var any = $"exists({path} ? ({string.Join(" || ", alternatives)}))";
                    return op == "$in" ? any : Not(any);
                default:
                    var ordered = op is "$gt" or "$gte" or "$lt" or "$lte";
                    var literal = Literal(value, field, ordered);
                    var comparison = op switch { "$gt" => ">", "$gte" => ">=", "$lt" => "<", "$lte" => "<=", _ => "==" };
                    var holds = $"exists({path} ? (@ {comparison} {literal}))";
                    return op == "$neq" ? Not(holds) : holds;
            }
        }

        /// <summary>
        /// The negation of a predicate that is unknown (not false) where its path is missing or not of its shape in
        /// strict mode: true there, so a negation holds on a missing field.
        /// </summary>
        private static string Not(string predicate) => $"!({predicate}) || ({predicate}) is unknown";

        /// <summary>A JSON literal as SQL/JSON path text: strings quoted and escaped, numbers as written.</summary>
        private string Literal(JsonElement value, string field, bool ordered)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    return Quoted(value.GetString()!, field) ?? "";
                case JsonValueKind.Number:
                    // JSON's number grammar is a subset of SQL/JSON path's: the text as written, compared exactly (numeric).
                    return value.GetRawText();
                case JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null when !ordered:
                    return value.GetRawText();
                case JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null:
                    return Fail(field, "must be a number or a string: only they are ordered.");
                default:
                    return Fail(field, "must be a string, number, true, false or null: objects and arrays are not compared.");
            }
        }

        /// <summary>The key of a path as SQL/JSON path accessors: <c>$."customer"."tier"</c>, <c>$."items"[0]."sku"</c>.</summary>
        private string? PathOf(string key, string field)
        {
            var segments = key.Split('.');
            if (segments.Length > MaxSegments)
            {
                Fail(field, $"has more than {MaxSegments} segments.");
                return null;
            }
            var path = new StringBuilder("$");
            foreach (var segment in segments)
            {
                if (segment.Length == 0 || segment.Length > MaxSegmentLength)
                {
                    Fail(field, $"must be a path of dot-separated names of 1 to {MaxSegmentLength} characters (no empty segment).");
                    return null;
                }
                if (segment.Length <= MaxIndexDigits && segment.All(char.IsAsciiDigit))
                {
                    path.Append('[').Append(int.Parse(segment, NumberStyles.None, CultureInfo.InvariantCulture)).Append(']');
                }
                else if (segment.All(char.IsAsciiDigit))
                {
                    Fail(field, $"has an array index of more than {MaxIndexDigits} digits.");
                    return null;
                }
                else if (Quoted(segment, field) is { } quoted)
                {
                    path.Append('.').Append(quoted);
                }
                else
                {
                    return null;
                }
            }
            return path.ToString();
        }

        /// <summary>A double-quoted SQL/JSON path string: quotes, backslashes and control characters escaped, so no text can end it early.</summary>
        private string? Quoted(string text, string field)
        {
            var quoted = new StringBuilder(text.Length + 2).Append('"');
            foreach (var c in text)
            {
                switch (c)
                {
                    case '\0':
                        Fail(field, "must not contain \\u0000.");
                        return null;
                    case '"' or '\\':
                        quoted.Append('\\').Append(c);
                        break;
                    case < ' ' or '\u007f':
                        quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                        break;
                    default:
                        quoted.Append(c);
                        break;
                }
            }
            return quoted.Append('"').ToString();
        }

        /// <summary>Adds an error (the message names the place: <c>'filter.amount.$gte' must be …</c>) and returns an empty predicate.</summary>
        private string Fail(string field, string message)
        {
            errors.Add(new(field, $"'{field}' {message}"));
            return "";
        }
    }
}
