namespace Webhooks.Core;

/// <summary>
/// Public identifiers: a type prefix and a UUIDv7 in Crockford base32 (<c>msg_01JD…</c>). They sort by
/// creation time, so they serve as pagination cursors and keep B-tree inserts at the right edge.
/// </summary>
public static class Ids
{
    public const string Application = "app";
    public const string ApiKey = "key";
    public const string PortalLink = "plk";
    public const string EventType = "evt";
    public const string Endpoint = "ep";
    public const string Message = "msg";
    public const string Attempt = "atmpt";
    public const string Source = "src";

    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private static readonly System.Buffers.SearchValues<char> AlphabetValues = System.Buffers.SearchValues.Create(Alphabet);

    public static string New(string prefix) => New(prefix, Guid.CreateVersion7());

    public static string New(string prefix, Guid uuid)
    {
        Span<byte> bytes = stackalloc byte[16];
        uuid.TryWriteBytes(bytes, bigEndian: true, out _);
        // 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
        Span<char> text = stackalloc char[prefix.Length + 1 + 26];
        prefix.CopyTo(text);
        text[prefix.Length] = '_';
        var digits = text[(prefix.Length + 1)..];
        UInt128 value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }
        for (var i = 25; i >= 0; i--)
        {
            digits[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
        return new string(text);
    }

    /// <summary>
    /// The smallest id of the prefix created at or after <paramref name="time"/> (a UUIDv7 starts with its millisecond
    /// timestamp): a time range becomes an id range, served by the indexes on ids.
    /// </summary>
    public static string LowerBound(string prefix, DateTimeOffset time)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = (ulong)Math.Max(0, time.ToUnixTimeMilliseconds());
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(ms >> (8 * (5 - i)));
        }
        return New(prefix, new Guid(bytes, bigEndian: true));
    }

    /// <summary>Whether <paramref name="id"/> has the shape of an id of the given prefix.</summary>
    public static bool IsValid(string? id, string prefix) =>
        id is not null &&
        id.Length == prefix.Length + 27 &&
        id.StartsWith(prefix, StringComparison.Ordinal) &&
        id[prefix.Length] == '_' &&
        id.AsSpan(prefix.Length + 1).IndexOfAnyExcept(AlphabetValues) < 0;
}
