using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Webhooks.Receiver.Sdk;

/// <summary>
/// The Standard Webhooks signature scheme: <c>v1,</c> + base64 HMAC-SHA256 of
/// <c>"{webhook-id}.{webhook-timestamp}.{body}"</c>, several signatures separated by spaces.
/// One implementation serves both the sender (sign) and the receiver (verify).
/// </summary>
public static class SignatureScheme
{
    /// <summary>The version tag of the symmetric HMAC-SHA256 signature.</summary>
    public const string Version = "v1";

    /// <summary>The receiver's default timestamp tolerance, in both directions.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private const int HashBytes = 32;

    /// <summary>Signs one request with one secret: returns <c>v1,&lt;base64&gt;</c>.</summary>
    public static string Sign(WebhookSecret secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[HashBytes];
        ComputeHash(secret, id, timestamp, body, hash);
        return Version + "," + Convert.ToBase64String(hash);
    }

    /// <summary>Signs one request with every secret given (during a rotation): space-separated signatures.</summary>
    public static string Sign(IEnumerable<WebhookSecret> secrets, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var builder = new StringBuilder();
        foreach (var secret in secrets)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }
            builder.Append(Sign(secret, id, timestamp, body));
        }
        return builder.ToString();
    }

    /// <summary>
    /// Verifies a request's headers against its raw body and any of the given secrets, in constant time
    /// per comparison. Signatures of other versions than <c>v1</c> are ignored.
    /// </summary>
    public static VerificationResult Verify(
        IReadOnlyList<WebhookSecret> secrets,
        string? id,
        string? timestamp,
        string? signatures,
        ReadOnlySpan<byte> body,
        DateTimeOffset now,
        TimeSpan tolerance)
    {
        var headers = CheckHeaders(id, timestamp, signatures, now, tolerance, out var seconds);
        if (headers != VerificationResult.Valid)
        {
            return headers;
        }

        Span<byte> expected = stackalloc byte[HashBytes];
        Span<byte> given = stackalloc byte[HashBytes + 3];
        foreach (var secret in secrets)
        {
            ComputeHash(secret, id!, seconds, body, expected);
            // Space-separated entries, walked by hand: MemoryExtensions.Split over a span is .NET 9 and later.
            var rest = signatures.AsSpan();
            while (!rest.IsEmpty)
            {
                var space = rest.IndexOf(' ');
                var entry = space < 0 ? rest : rest[..space];
                rest = space < 0 ? default : rest[(space + 1)..];
                var comma = entry.IndexOf(',');
                if (comma < 0 || !entry[..comma].SequenceEqual(Version))
                {
                    continue;
                }
                var encoded = entry[(comma + 1)..];
                if (encoded.Length > Base64.GetMaxEncodedToUtf8Length(HashBytes) ||
                    !Convert.TryFromBase64Chars(encoded, given, out var written) || written != HashBytes)
                {
                    continue;
                }
                if (CryptographicOperations.FixedTimeEquals(expected, given[..HashBytes]))
                {
                    return VerificationResult.Valid;
                }
            }
        }
        return VerificationResult.InvalidSignature;
    }

    /// <summary>
    /// The checks that need no body: the three headers are present and the timestamp is within tolerance.
    /// <see cref="VerificationResult.Valid"/> here means only that the signature is worth computing.
    /// </summary>
    internal static VerificationResult CheckHeaders(
        string? id, string? timestamp, string? signatures, DateTimeOffset now, TimeSpan tolerance, out long seconds)
    {
        seconds = 0;
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
        {
            return VerificationResult.MissingHeaders;
        }
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out seconds))
        {
            return VerificationResult.InvalidTimestamp;
        }
        var skew = now.ToUnixTimeSeconds() - seconds;
        return Math.Abs(skew) > (long)tolerance.TotalSeconds ? VerificationResult.InvalidTimestamp : VerificationResult.Valid;
    }

    private static void ComputeHash(WebhookSecret secret, string id, long timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        // "{id}.{timestamp}." is short: encode it on the stack, then stream the body after it.
        var prefixLength = Encoding.UTF8.GetMaxByteCount(id.Length) + 22;
        var rented = prefixLength > 512 ? ArrayPool<byte>.Shared.Rent(prefixLength) : null;
        try
        {
            Span<byte> prefix = rented ?? stackalloc byte[512];
            var n = Encoding.UTF8.GetBytes(id, prefix);
            prefix[n++] = (byte)'.';
            timestamp.TryFormat(prefix[n..], out var digits, provider: CultureInfo.InvariantCulture);
            n += digits;
            prefix[n++] = (byte)'.';

            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret.Key);
            hmac.AppendData(prefix[..n]);
            hmac.AppendData(body);
            hmac.GetHashAndReset(destination);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
