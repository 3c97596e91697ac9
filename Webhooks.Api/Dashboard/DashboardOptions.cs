using System.ComponentModel.DataAnnotations;

namespace Webhooks.Api.Dashboard;

/// <summary>Settings of the dashboard, from <c>Webhooks:Dashboard</c>.</summary>
public sealed class DashboardOptions : IValidatableObject
{
    public const string SectionName = "Webhooks:Dashboard";
    public const string TraceIdPlaceholder = "{traceId}";

    /// <summary>
    /// Where an attempt's trace id links to: an absolute http(s) URL with <c>{traceId}</c> in it, such as the Aspire
    /// dashboard's <c>http://localhost:18888/traces/detail/{traceId}</c>. Unset, trace ids are shown without a link.
    /// </summary>
    public string? TraceUrlTemplate { get; set; }

    /// <summary>The longest a portal link (and the session it opens) may last: 24 h.</summary>
    public const int MaxPortalLinkLifetimeSeconds = 24 * 3600;

    /// <summary>How long a portal link lasts when its request does not say: 1 h.</summary>
    [Range(1, MaxPortalLinkLifetimeSeconds)]
    public int PortalLinkLifetimeSeconds { get; set; } = 3600;

    /// <summary>
    /// The public base URL (<c>https://webhooks.example.com</c>) that portal links and ingest URLs start with; unset, the
    /// base URL of the request that shows them.
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary><see cref="PublicUrl"/> without a trailing '/', else the base URL of <paramref name="http"/>'s request.</summary>
    public string BaseUrl(HttpContext http) =>
        string.IsNullOrEmpty(PublicUrl) ? $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}" : PublicUrl.TrimEnd('/');

    /// <summary>
    /// Origins that may show the dashboard in a frame (<c>https://app.example.com</c>), besides the dashboard itself:
    /// the <c>frame-ancestors</c> of its Content-Security-Policy.
    /// </summary>
    public string[] FrameAncestors { get; set; } = [];

    /// <summary>The link for one trace, or null when no template is set.</summary>
    public string? TraceUrl(string traceId) =>
        string.IsNullOrEmpty(TraceUrlTemplate) ? null : TraceUrlTemplate.Replace(TraceIdPlaceholder, Uri.EscapeDataString(traceId), StringComparison.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(PublicUrl) && (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out var publicUrl) || publicUrl.Scheme is not ("http" or "https")))
        {
            yield return new ValidationResult($"{SectionName}:PublicUrl must be an absolute http(s) URL, e.g. https://webhooks.example.com.", [nameof(PublicUrl)]);
        }
        foreach (var origin in FrameAncestors)
        {
            if (!IsOrigin(origin))
            {
                yield return new ValidationResult(
                    $"{SectionName}:FrameAncestors holds origins such as https://app.example.com (scheme, host and optional port, nothing else); '{origin}' is not one.",
                    [nameof(FrameAncestors)]);
            }
        }
        if (string.IsNullOrEmpty(TraceUrlTemplate))
        {
            yield break;
        }
        if (!TraceUrlTemplate.Contains(TraceIdPlaceholder, StringComparison.Ordinal)
            || !Uri.TryCreate(TraceUrlTemplate.Replace(TraceIdPlaceholder, "0", StringComparison.Ordinal), UriKind.Absolute, out var url)
            || url.Scheme is not ("http" or "https"))
        {
            yield return new ValidationResult(
                $"{SectionName}:TraceUrlTemplate must be an absolute http(s) URL containing {TraceIdPlaceholder}, e.g. http://localhost:18888/traces/detail/{TraceIdPlaceholder}.",
                [nameof(TraceUrlTemplate)]);
        }
    }

    /// <summary>An origin as CSP's frame-ancestors takes it: http(s), a host, an optional port, no path, query or quote.</summary>
    private static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
        && uri.GetLeftPart(UriPartial.Authority).Equals(value.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
        && !value.Any(c => char.IsWhiteSpace(c) || c is ';' or ',' or '\'' or '"');
}
