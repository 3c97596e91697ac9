using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Webhooks.Core.Delivery;

/// <summary>
/// The body of every delivery, <c>{"type", "timestamp", "data"}</c>, with <c>data</c> the payload's text exactly as
/// it was published (key order, number spelling and white space kept). The API sizes payloads by it, the worker
/// builds it: one definition, so what the API accepts is what the receiver gets.
/// </summary>
public static class WebhookEnvelope
{
    /// <summary>The receiver SDK's default body limit, and so the platform's: 1 MiB.</summary>
    public const int DefaultMaxBytes = 1024 * 1024;

    public static byte[] Build(string eventType, DateTimeOffset createdAt, string payload)
    {
        var buffer = new ArrayBufferWriter<byte>(Encoding.UTF8.GetMaxByteCount(payload.Length) + eventType.Length + 64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", eventType);
            // Fixed width (microseconds, 'Z'), so the size of a body does not depend on when it is built.
            writer.WriteString("timestamp", createdAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            writer.WritePropertyName("data");
            writer.WriteRawValue(payload, skipInputValidation: true);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The size in UTF-8 bytes of the body that delivers <paramref name="payload"/> as <paramref name="eventType"/>.</summary>
    public static long ByteCount(string eventType, string payload) =>
        Build(eventType, DateTimeOffset.UnixEpoch, "0").Length - 1 + (long)Encoding.UTF8.GetByteCount(payload);
}
