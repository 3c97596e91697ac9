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

    /// <summary>The link for one trace, or null when no template is set.</summary>
    public string? TraceUrl(string traceId) =>
        string.IsNullOrEmpty(TraceUrlTemplate) ? null : TraceUrlTemplate.Replace(TraceIdPlaceholder, Uri.EscapeDataString(traceId), StringComparison.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
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
}
