namespace Webhooks.Core.Delivery;

/// <summary>
/// The headers an endpoint (or its transformation) may add to a delivery: never the signature's (<c>webhook-*</c>,
/// <c>svix-*</c>), the body's framing (<c>content-*</c>, <c>transfer-encoding</c>, <c>host</c>, <c>connection</c>) or the
/// trace's; names are HTTP tokens, values printable.
/// </summary>
public static class CustomHeaders
{
    /// <summary>The most custom headers a delivery carries.</summary>
    public const int MaxCount = 20;

    private static readonly string[] Reserved =
        ["host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
         "proxy-authorization", "proxy-connection", "traceparent", "tracestate", "user-agent"];

    public static bool IsAllowed(string name, string value) =>
        name.Length is > 0 and <= 256 &&
        value.Length <= 4096 &&
        name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c))) &&
        !name.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase) &&
        !name.StartsWith("svix-", StringComparison.OrdinalIgnoreCase) &&
        !name.StartsWith("content-", StringComparison.OrdinalIgnoreCase) &&
        !Reserved.Contains(name, StringComparer.OrdinalIgnoreCase) &&
        // Sendable as it is: visible ASCII, spaces and tabs (HttpClient refuses anything else, at every attempt).
        value.All(c => c == '\t' || c is >= ' ' and <= '~');

    /// <summary>Whether a header's name suggests a credential: its value is never shown (attempt log, reproductions).</summary>
    public static bool IsCredentialName(string name)
    {
        var lower = name.ToLowerInvariant();
        return lower is "authorization" or "proxy-authorization" or "cookie" ||
               lower.Contains("token", StringComparison.Ordinal) || lower.Contains("secret", StringComparison.Ordinal) ||
               lower.Contains("key", StringComparison.Ordinal) || lower.Contains("password", StringComparison.Ordinal) ||
               lower.Contains("auth", StringComparison.Ordinal) || lower.Contains("signature", StringComparison.Ordinal);
    }
}
