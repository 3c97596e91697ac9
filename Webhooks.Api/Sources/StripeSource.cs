using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Webhooks.Api.Sources;

/// <summary>
/// Stripe: <c>Stripe-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;[,v1=…]</c>, each <c>v1</c> an HMAC-SHA256 of
/// <c>"{t}.{body}"</c> keyed with the endpoint secret as Stripe shows it (<c>whsec_…</c>, used as text); several <c>v1</c>
/// while Stripe rolls a secret. The event is <c>stripe.&lt;type&gt;</c> from the body, deduplicated by the event's <c>id</c>.
/// </summary>
public sealed class StripeSource : SourceType
{
    public const string TypeName = "stripe";
    private const string SignatureHeader = "Stripe-Signature";

    public override string Name => TypeName;

    public override string? CheckSecret(string secret) =>
        secret.Length is < 1 or > 256 || !Infrastructure.Text.IsPrintable(secret) || secret.Contains(' ', StringComparison.Ordinal)
            ? "A Stripe signing secret is the 'whsec_…' text Stripe shows for the endpoint (1 to 256 characters, no space)."
            : null;

    // Stripe makes the secret of each endpoint; it is copied from Stripe's dashboard.
    public override string? GenerateSecret() => null;

    public override IngestResult Read(IngestRequest request, IReadOnlyList<string> secrets)
    {
        if (!IsJson(request.ContentType))
        {
            return IngestResult.UnsupportedContentType("application/json (as Stripe sends)");
        }
        if (SentMoreThanOnce(request.Headers, SignatureHeader))
        {
            return IngestResult.Unsigned($"{SignatureHeader} was sent more than once.");
        }
        if (Single(request.Headers, SignatureHeader) is not { } header)
        {
            return IngestResult.Unsigned($"{SignatureHeader} is missing.");
        }
        if (!TryParseHeader(header, out var timestamp, out var signatures, out var malformed))
        {
            return IngestResult.Unsigned($"{SignatureHeader} is malformed: {malformed}");
        }
        var signed = Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var matched = secrets.Any(secret =>
        {
            var expected = Hmac(secret, signed, request.Body);
            return signatures.Any(given => CryptographicOperations.FixedTimeEquals(expected, given));
        });
        if (!matched)
        {
            return IngestResult.Unsigned($"No v1 signature in {SignatureHeader} matches the body: the secret differs, or the body was changed.");
        }
        // As Stripe's libraries: the timestamp is judged once the signature proved it is Stripe's (and so not forged), and
        // only its age (a replay); a time ahead of this clock is Stripe's own, signed.
        if (request.Now.ToUnixTimeSeconds() - timestamp > (long)Tolerance.TotalSeconds)
        {
            return IngestResult.Invalid($"The signed timestamp t={timestamp} is more than {Tolerance.TotalMinutes} minutes old: a replay, or a clock that is off.");
        }
        if (!TryReadJson(request.Body, out var payload, out var document, out var error))
        {
            return IngestResult.Invalid(error!);
        }
        // The parsed body goes to the caller with the event; a refusal disposes it here.
        var root = document!.RootElement;
        var id = root.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String ? idValue.GetString() : null;
        if (CheckDeliveryId(id, "The event's 'id'") is { } badId)
        {
            document.Dispose();
            return IngestResult.Invalid(badId);
        }
        var name = root.TryGetProperty("type", out var typeValue) && typeValue.ValueKind == JsonValueKind.String ? typeValue.GetString() : null;
        if (EventTypeOf("stripe", name, out var badType) is not { } eventType)
        {
            document.Dispose();
            return IngestResult.Invalid(name is null ? "The event has no 'type' string." : $"The event's 'type': {badType}", id);
        }
        return IngestResult.Publish(eventType, id!, payload, document);
    }

    /// <summary>Exactly one <c>t</c> (digits), at least one well-formed <c>v1</c>; other items (<c>v0</c>, anything new) are ignored, as Stripe's libraries do.</summary>
    private static bool TryParseHeader(string header, out long timestamp, out List<byte[]> signatures, out string? error)
    {
        timestamp = 0;
        signatures = [];
        var seenTimestamp = false;
        foreach (var item in header.Split(','))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                // Items of no known shape are skipped, as Stripe's libraries do (a scheme Stripe adds later).
                continue;
            }
            var key = item[..equals].Trim();
            var value = item[(equals + 1)..].Trim();
            if (key == "t")
            {
                if (seenTimestamp || value.Length is 0 or > 12 || !value.All(char.IsAsciiDigit))
                {
                    error = seenTimestamp ? "'t' appears more than once." : "'t' must be the signing time in Unix seconds.";
                    return false;
                }
                seenTimestamp = true;
                timestamp = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (key == "v1" && FromHex64(value) is { } signature)
            {
                signatures.Add(signature);
            }
        }
        error = !seenTimestamp ? "'t' is missing." : signatures.Count == 0 ? "there is no 'v1' signature of 64 hex digits." : null;
        return error is null;
    }
}
