using System.Globalization;
using System.Text.Json;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// JSON that Postgres can keep as jsonb: no U+0000 and no unpaired surrogate (JSON writes both as escapes,
/// <c>"\u0000"</c>, <c>"\uD800"</c>, that every JSON parser here accepts), and numbers within its <c>numeric</c> (at most
/// 131072 digits before the decimal point and 16383 after: <c>1e200000</c> is valid JSON, not a storable number).
/// Checked on the JSON a tenant gives to be stored as it is (payloads, schemas), so it is refused as invalid rather
/// than failing in the database.
/// </summary>
public static class StorableJson
{
    public const string Rule =
        "must not contain \\u0000, an unpaired surrogate (\\uD800–\\uDFFF) or a number with more than 131072 digits before the decimal point or 16383 after";

    private const int MaxWholeDigits = 131072;
    private const int MaxScale = 16383;

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
        JsonValueKind.Number => IsStorableNumber(element.GetRawText()),
        JsonValueKind.Object => element.EnumerateObject().All(p => !p.Name.Contains('\0', StringComparison.Ordinal) && Walk(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().All(Walk),
        _ => true,
    };

    // A JSON number: -?digits(.digits)?([eE][+-]?digits)? — as Postgres reads it into numeric, keeping its written scale.
    private static bool IsStorableNumber(string number)
    {
        var e = number.AsSpan().IndexOfAny('e', 'E');
        var exponent = 0L;
        if (e >= 0 && !long.TryParse(number.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
        {
            return false;
        }
        var mantissa = (e >= 0 ? number[..e] : number).TrimStart('-');
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var wholeDigits = point < 0 ? mantissa.Length : point;
        var fractionDigits = point < 0 ? 0 : mantissa.Length - point - 1;
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var significant = digits.TrimStart('0');
        // Digits before the point once the exponent is applied (a zero has none), and digits after it as written.
        var whole = significant.Length == 0 ? 0 : wholeDigits - (digits.Length - significant.Length) + exponent;
        return whole <= MaxWholeDigits && fractionDigits - exponent <= MaxScale;
    }
}
