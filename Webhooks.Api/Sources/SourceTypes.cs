using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Webhooks.Api.Sources;

/// <summary>One request to an ingest URL, as a <see cref="SourceType"/> reads it: headers and the raw body, as received.</summary>
public sealed record IngestRequest(IHeaderDictionary Headers, string? ContentType, ReadOnlyMemory<byte> Body, DateTimeOffset Now);

/// <summary>
/// What a source type made of a request: the event to publish (its type, the sender's delivery id, the payload's JSON
/// text as sent, and that text parsed, which the caller disposes), or a refusal with its status and reason.
/// <see cref="DeliveryId"/> is kept in the log either way.
/// </summary>
public sealed record IngestResult(int Status, string? Reason, string? EventType, string? DeliveryId, string? Payload, JsonDocument? Document = null)
{
    public bool Accepted => Reason is null;

    public static IngestResult Publish(string eventType, string deliveryId, string payload, JsonDocument document) =>
        new(StatusCodes.Status200OK, null, eventType, deliveryId, payload, document);

    /// <summary>A refusal of any status, with what is known of the delivery.</summary>
    public static IngestResult Refuse(int status, string reason, string? deliveryId = null) => new(status, reason, null, deliveryId, null);

    /// <summary>401: the request is not the sender's (no, a malformed or a wrong signature).</summary>
    public static IngestResult Unsigned(string reason, string? deliveryId = null) => Refuse(StatusCodes.Status401Unauthorized, reason, deliveryId);

    /// <summary>400: signed, or not worth checking, but not something to publish (a stale timestamp, a missing id or type).</summary>
    public static IngestResult Invalid(string reason, string? deliveryId = null) => Refuse(StatusCodes.Status400BadRequest, reason, deliveryId);

    public static IngestResult UnsupportedContentType(string expected, string? deliveryId = null) =>
        Refuse(StatusCodes.Status415UnsupportedMediaType, $"The body must be {expected}.", deliveryId);
}

/// <summary>
/// How one kind of sender signs its requests and names its events. A new sender (Shopify, a partner's HMAC header) is
/// one subclass registered with <c>AddSingleton&lt;SourceType, …&gt;()</c>: its <see cref="Name"/> becomes a valid
/// <c>type</c> for sources. See docs/sources.md.
/// </summary>
public abstract class SourceType
{
    /// <summary>The most characters of a sender's delivery id kept (and so deduplicated by).</summary>
    public const int MaxDeliveryIdLength = 255;

    /// <summary>How far a signed timestamp may be from the server's clock, either way.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>The source's <c>type</c>: lower-case letters, digits and '-'.</summary>
    public abstract string Name { get; }

    /// <summary>Why <paramref name="secret"/> cannot verify this sender's signatures, or null.</summary>
    public abstract string? CheckSecret(string secret);

    /// <summary>A new secret for a source created without one; null when the sender makes its own (it must then be given).</summary>
    public abstract string? GenerateSecret();

    /// <summary>Verifies the request with any of <paramref name="secrets"/> (two during a rotation) and reads the event in it.</summary>
    public abstract IngestResult Read(IngestRequest request, IReadOnlyList<string> secrets);

    /// <summary>The body as JSON text, or why it is not (invalid UTF-8, not a JSON object).</summary>
    protected static bool TryReadJson(ReadOnlyMemory<byte> body, out string text, out JsonDocument? document, out string? error)
    {
        document = null;
        text = "";
        try
        {
            text = Strict.GetString(body.Span);
        }
        catch (DecoderFallbackException)
        {
            error = "The body is not valid UTF-8.";
            return false;
        }
        return TryParseJson(text, out document, out error);
    }

    protected static bool TryParseJson(string text, out JsonDocument? document, out string? error)
    {
        document = null;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            error = $"The body is not JSON: {ex.Message}";
            return false;
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            document = null;
            error = "The body must be a JSON object.";
            return false;
        }
        if (!Infrastructure.StorableJson.IsStorable(document.RootElement))
        {
            document.Dispose();
            document = null;
            error = $"The body {Infrastructure.StorableJson.Rule}.";
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>The header's one value; null when it is absent, sent twice, or empty.</summary>
    protected static string? Single(IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var values) && values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;

    protected static bool SentMoreThanOnce(IHeaderDictionary headers, string name) => headers.TryGetValue(name, out var values) && values.Count > 1;

    /// <summary>Why <paramref name="id"/> cannot be a delivery id to deduplicate by, or null.</summary>
    protected static string? CheckDeliveryId(string? id, string what) =>
        id is null ? $"{what} is missing: there is nothing to deduplicate by."
        : id.Length > MaxDeliveryIdLength || !Infrastructure.Text.IsPrintable(id) ? $"{what} must be 1 to {MaxDeliveryIdLength} printable characters."
        : null;

    /// <summary>The event type <paramref name="prefix"/>.<paramref name="name"/>, or why it is not a valid event type name.</summary>
    protected static string? EventTypeOf(string? prefix, string? name, out string? error)
    {
        var type = prefix is null ? name : $"{prefix}.{name}";
        if (string.IsNullOrEmpty(name) || !Infrastructure.EventTypeNameValidator.IsValid(type))
        {
            error = $"'{Clip(name ?? "", 64)}' is not a valid event type name (letters, digits, '_', '.' and '-', at most 256).";
            return null;
        }
        error = null;
        return type;
    }

    protected static bool IsJson(string? contentType) => MediaIs(contentType, "application/json");

    protected static bool MediaIs(string? contentType, string media) =>
        contentType is not null && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed) &&
        parsed.MediaType.Equals(media, StringComparison.OrdinalIgnoreCase) &&
        (!parsed.Charset.HasValue || parsed.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>HMAC-SHA256 of <paramref name="parts"/> with the UTF-8 bytes of <paramref name="secret"/>.</summary>
    protected static byte[] Hmac(string secret, params ReadOnlySpan<ReadOnlyMemory<byte>> parts)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        foreach (var part in parts)
        {
            hmac.AppendData(part.Span);
        }
        return hmac.GetHashAndReset();
    }

    /// <summary>64 hex digits as the 32 bytes they spell, else null.</summary>
    protected static byte[]? FromHex64(ReadOnlySpan<char> hex)
    {
        if (hex.Length != 64)
        {
            return null;
        }
        var bytes = new byte[32];
        return Convert.FromHexString(hex, bytes, out _, out var written) == System.Buffers.OperationStatus.Done && written == 32 ? bytes : null;
    }

    /// <summary>At most <paramref name="length"/> characters of <paramref name="text"/>, for a message.</summary>
    protected static string Clip(string text, int length) => SourceLog.Printable(text, length)!;

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
