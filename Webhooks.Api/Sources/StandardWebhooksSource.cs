using System.Text.Json;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Api.Sources;

/// <summary>
/// A Standard Webhooks sender (Svix, this platform, anyone following the spec), verified with the receiver SDK's own
/// <see cref="SignatureScheme"/>: <c>webhook-id</c>, <c>webhook-timestamp</c> (±5 minutes), <c>webhook-signature</c> with a
/// <c>whsec_</c> secret. The event is the body's <c>type</c>, as the sender named it; deduplicated by <c>webhook-id</c>.
/// </summary>
public sealed class StandardWebhooksSource : SourceType
{
    public const string TypeName = "standard-webhooks";

    public override string Name => TypeName;

    public override string? CheckSecret(string secret) =>
        WebhookSecret.TryParse(secret, out _, out var error) ? null : $"A Standard Webhooks secret is 'whsec_' and base64 of 24 to 64 bytes: {error}";

    public override string GenerateSecret() => WebhookSecret.Prefix + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public override IngestResult Read(IngestRequest request, IReadOnlyList<string> secrets)
    {
        if (!IsJson(request.ContentType))
        {
            return IngestResult.UnsupportedContentType("application/json");
        }
        string[] names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        if (names.FirstOrDefault(name => SentMoreThanOnce(request.Headers, name)) is { } twice)
        {
            return IngestResult.Unsigned($"{twice} was sent more than once.");
        }
        var id = Single(request.Headers, "webhook-id");
        var keys = secrets.Select(WebhookSecret.Parse).ToList();
        var verdict = SignatureScheme.Verify(keys, id, Single(request.Headers, "webhook-timestamp"), Single(request.Headers, "webhook-signature"),
            request.Body.Span, request.Now, Tolerance);
        switch (verdict)
        {
            case VerificationResult.MissingHeaders:
                return IngestResult.Unsigned("webhook-id, webhook-timestamp and webhook-signature are all required.", id);
            case VerificationResult.InvalidTimestamp:
                return IngestResult.Invalid($"webhook-timestamp is not Unix seconds within {Tolerance.TotalMinutes} minutes of now: a replay, or a clock that is off.", id);
            case VerificationResult.InvalidSignature:
                return IngestResult.Unsigned("No v1 signature in webhook-signature matches: the secret differs, or the body was changed.", id);
        }
        if (CheckDeliveryId(id, "webhook-id") is { } badId)
        {
            return IngestResult.Invalid(badId, id);
        }
        if (!TryReadJson(request.Body, out var payload, out var document, out var error))
        {
            return IngestResult.Invalid(error!, id);
        }
        var root = document!.RootElement;
        var name = root.TryGetProperty("type", out var typeValue) && typeValue.ValueKind == JsonValueKind.String ? typeValue.GetString() : null;
        if (EventTypeOf(null, name, out var badType) is not { } eventType)
        {
            document.Dispose();
            return IngestResult.Invalid(name is null ? "The body has no 'type' string." : $"The body's 'type': {badType}", id);
        }
        return IngestResult.Publish(eventType, id!, payload, document);
    }
}
