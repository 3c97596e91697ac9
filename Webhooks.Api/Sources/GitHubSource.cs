using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace Webhooks.Api.Sources;

/// <summary>
/// GitHub: <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256 of the body&gt;</c> with the webhook's secret; the event is
/// <c>github.&lt;X-GitHub-Event&gt;</c>, deduplicated by <c>X-GitHub-Delivery</c>. A webhook set to
/// <c>application/x-www-form-urlencoded</c> is read too: the signature covers the form, the payload is its <c>payload</c> field.
/// </summary>
public sealed class GitHubSource : SourceType
{
    public const string TypeName = "github";
    private const string SignatureHeader = "X-Hub-Signature-256";
    private const string Prefix = "sha256=";

    public override string Name => TypeName;

    public override string? CheckSecret(string secret) =>
        secret.Length is < 1 or > 256 || !Infrastructure.Text.IsPrintable(secret) ? "A GitHub secret is 1 to 256 printable characters." : null;

    // GitHub takes any text; 32 random bytes as hex, as GitHub's own docs suggest generating.
    public override string GenerateSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public override IngestResult Read(IngestRequest request, IReadOnlyList<string> secrets)
    {
        var deliveryId = Single(request.Headers, "X-GitHub-Delivery");
        var form = MediaIs(request.ContentType, "application/x-www-form-urlencoded");
        if (!form && !IsJson(request.ContentType))
        {
            return IngestResult.UnsupportedContentType("application/json or application/x-www-form-urlencoded (as GitHub sends)", deliveryId);
        }
        if (SentMoreThanOnce(request.Headers, SignatureHeader))
        {
            return IngestResult.Unsigned($"{SignatureHeader} was sent more than once.", deliveryId);
        }
        var header = Single(request.Headers, SignatureHeader);
        if (header is null)
        {
            return IngestResult.Unsigned($"{SignatureHeader} is missing: set a secret on the GitHub webhook.", deliveryId);
        }
        if (!header.StartsWith(Prefix, StringComparison.Ordinal) || FromHex64(header.AsSpan(Prefix.Length)) is not { } given)
        {
            return IngestResult.Unsigned($"{SignatureHeader} must be 'sha256=' followed by 64 hex digits.", deliveryId);
        }
        if (!secrets.Any(secret => CryptographicOperations.FixedTimeEquals(Hmac(secret, request.Body), given)))
        {
            return IngestResult.Unsigned($"{SignatureHeader} does not match the body: the secret differs, or the body was changed.", deliveryId);
        }
        if (CheckDeliveryId(deliveryId, "X-GitHub-Delivery") is { } badId)
        {
            return IngestResult.Invalid(badId, deliveryId);
        }
        if (EventTypeOf("github", Single(request.Headers, "X-GitHub-Event"), out var badType) is not { } eventType)
        {
            return IngestResult.Invalid($"X-GitHub-Event: {badType}", deliveryId);
        }
        JsonDocument? document = null;
        var read = form
            ? TryReadForm(request.Body, out var payload, out var error) && TryParseJson(payload, out document, out error)
            : TryReadJson(request.Body, out payload, out document, out error);
        return read ? IngestResult.Publish(eventType, deliveryId!, payload, document!) : IngestResult.Invalid(error!, deliveryId);
    }

    /// <summary>The form's one <c>payload</c> field.</summary>
    private static bool TryReadForm(ReadOnlyMemory<byte> body, out string payload, out string? error)
    {
        payload = "";
        try
        {
            var fields = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body.Span));
            if (fields.TryGetValue("payload", out var values) && values.Count == 1 && values[0] is { } value)
            {
                payload = value;
                error = null;
                return true;
            }
        }
        catch (FormatException)
        {
        }
        error = "The form must have one 'payload' field (GitHub's form content type).";
        return false;
    }
}
