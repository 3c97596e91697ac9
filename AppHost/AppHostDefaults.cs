namespace Webhooks.AppHost;

/// <summary>What both modes start with when nothing is configured, so the first run is the same in each.</summary>
internal static class AppHostDefaults
{
    /// <summary>The development admin key (Webhooks.Api's appsettings.Development.json has the same).</summary>
    public const string AdminApiKey = "wh_admin_dev_0000000000000000000000000000";

    /// <summary>The sample receiver's signing secret (its launchSettings.json has the same).</summary>
    public const string SampleReceiverSecret = "whsec_c2FtcGxlLXJlY2VpdmVyLWRldmVsb3BtZW50LXNlY3JldA==";

    /// <summary>The dashboard's address and OTLP endpoint when the launch profile gives none (a standalone dashboard's defaults).</summary>
    public const string DashboardUrl = "http://localhost:18888";

    public const string DashboardOtlpUrl = "http://localhost:18889";

    /// <summary>The first http(s) URL of an <c>ASPNETCORE_URLS</c>-style list (<c>a;b</c>), or null.</summary>
    public static string? FirstHttpUrl(string? urls) =>
        urls?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || u.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>The Aspire dashboard's page for one trace, as Webhooks:Dashboard:TraceUrlTemplate wants it.</summary>
    public static string TraceUrlTemplate(string dashboardUrl) => dashboardUrl.TrimEnd('/') + "/traces/detail/{traceId}";
}
