using OpenTelemetry.Instrumentation.AspNetCore;

namespace Webhooks.Api.Dashboard;

/// <summary>
/// A portal link's token is a credential until it is redeemed: it never appears in a log line or a trace. The path
/// <c>/dashboard/portal/{token}</c> is written as <c>/dashboard/portal/***</c>.
/// </summary>
public static class PortalTokenRedaction
{
    private const string Prefix = "/dashboard/portal/";

    /// <summary>The path with a portal token replaced, or the path as it is.</summary>
    public static string Redact(string? path) =>
        path is not null && path.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && path.Length > Prefix.Length
            ? Prefix + "***"
            : path ?? "";

    /// <summary>The request spans of portal links carry the redacted path.</summary>
    public static IServiceCollection AddPortalTokenRedaction(this IServiceCollection services) =>
        services.Configure<AspNetCoreTraceInstrumentationOptions>(options =>
        {
            var enrich = options.EnrichWithHttpRequest;
            options.EnrichWithHttpRequest = (activity, request) =>
            {
                enrich?.Invoke(activity, request);
                if (Redact(request.Path.Value) is var redacted && redacted != request.Path.Value)
                {
                    activity.SetTag("url.path", redacted);
                    activity.SetTag("url.full", null);
                    activity.SetTag("http.target", null);
                }
            };
        });
}
