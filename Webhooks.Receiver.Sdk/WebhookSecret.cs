using System.Security.Cryptography;

namespace Webhooks.Receiver.Sdk;

/// <summary>
/// A Standard Webhooks signing secret: <c>whsec_</c> followed by the base64 of 24 to 64 random bytes.
/// </summary>
public sealed class WebhookSecret
{
    /// <summary>The prefix every secret carries in its text form.</summary>
    public const string Prefix = "whsec_";

    /// <summary>Fewest key bytes accepted.</summary>
    public const int MinKeyBytes = 24;

    /// <summary>Most key bytes accepted.</summary>
    public const int MaxKeyBytes = 64;

    private readonly byte[] _key;

    private WebhookSecret(byte[] key) => _key = key;

    /// <summary>The HMAC key bytes.</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>Generates a new secret of 32 random bytes.</summary>
    public static WebhookSecret Generate() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>Parses a secret, with or without the <c>whsec_</c> prefix.</summary>
    /// <exception cref="FormatException">The text is not base64 of 24 to 64 bytes.</exception>
    public static WebhookSecret Parse(string text)
    {
        if (TryParse(text, out var secret, out var error))
        {
            return secret;
        }
        throw new FormatException(error);
    }

    /// <summary>Parses a secret, with or without the <c>whsec_</c> prefix, saying why it failed.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WebhookSecret? secret, out string? error)
    {
        secret = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "The secret is empty.";
            return false;
        }
        var body = text.StartsWith(Prefix, StringComparison.Ordinal) ? text[Prefix.Length..] : text;
        var buffer = new byte[body.Length];
        if (!Convert.TryFromBase64String(body, buffer, out var written))
        {
            error = $"The secret is not '{Prefix}' followed by base64.";
            return false;
        }
        if (written is < MinKeyBytes or > MaxKeyBytes)
        {
            error = $"The secret decodes to {written} bytes; it must be {MinKeyBytes} to {MaxKeyBytes}.";
            return false;
        }
        secret = new WebhookSecret(buffer.AsSpan(0, written).ToArray());
        error = null;
        return true;
    }

    /// <summary>The text form, <c>whsec_…</c>.</summary>
    public override string ToString() => Prefix + Convert.ToBase64String(_key);
}
