using OpenTelemetry.Instrumentation.AspNetCore;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// Tokens in URLs are credentials: a portal link's until it is redeemed, an ingest URL's for as long as it lives. Neither
/// appears in a log line or a trace: <c>/dashboard/portal/{token}</c> is written <c>/dashboard/portal/***</c>, and
/// <c>/ingest/{token}</c> <c>/ingest/***</c>.
/// </summary>
public static class UrlTokenRedaction
{
    private static readonly string[] Prefixes = ["/dashboard/portal/", "/ingest/"];

    /// <summary>The path with a token replaced, or the path as it is.</summary>
    public static string Redact(string? path)
    {
        foreach (var prefix in Prefixes)
        {
            if (path is not null && path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && path.Length > prefix.Length)
            {
                return prefix + "***";
            }
        }
        return path ?? "";
    }

    /// <summary>The request spans of portal links and ingest URLs carry the redacted path.</summary>
    public static IServiceCollection AddUrlTokenRedaction(this IServiceCollection services) =>
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
