using Microsoft.Extensions.Configuration;

namespace Webhooks.AppHost.Local;

/// <summary>
/// An Aspire dashboard build run standalone, as local mode's trace, metric and log viewer: the services export to its
/// OTLP endpoint and the Webhooks dashboard links trace ids to it. Found through <c>Local:AspireDashboardPath</c> or
/// <c>ASPIRE_DASHBOARD_PATH</c>: the dashboard's executable, its <c>Aspire.Dashboard.dll</c>, or the folder holding
/// either (such as the <c>tools</c> folder of the <c>Aspire.Dashboard.Sdk.&lt;rid&gt;</c> package). It listens where
/// Aspire mode's dashboard does: the launch profile's <c>applicationUrl</c> and <c>ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL</c>.
/// </summary>
public sealed record LocalDashboard(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory, Uri Url, Uri OtlpUrl)
{
    /// <summary>The dashboard configured, or null when none is; a configured path that holds no dashboard is an error.</summary>
    public static LocalDashboard? Find(IConfiguration configuration)
    {
        var path = configuration["Local:AspireDashboardPath"] is { Length: > 0 } configured ? configured : configuration["ASPIRE_DASHBOARD_PATH"];
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }
        path = Path.GetFullPath(path);
        var url = new Uri(AppHostDefaults.FirstHttpUrl(configuration["ASPNETCORE_URLS"]) ?? AppHostDefaults.DashboardUrl);
        var otlp = new Uri(configuration["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] is { Length: > 0 } aspire ? aspire
            : configuration["DOTNET_DASHBOARD_OTLP_ENDPOINT_URL"] is { Length: > 0 } dotnet ? dotnet : AppHostDefaults.DashboardOtlpUrl);
        var executable = OperatingSystem.IsWindows() ? "Aspire.Dashboard.exe" : "Aspire.Dashboard";
        string[] candidates = Directory.Exists(path) ? [Path.Combine(path, executable), Path.Combine(path, "Aspire.Dashboard.dll")] : [path];
        foreach (var candidate in candidates.Where(File.Exists))
        {
            var directory = Path.GetDirectoryName(candidate)!;
            return candidate.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
                ? new LocalDashboard("dotnet", [candidate], directory, url, otlp)
                : new LocalDashboard(candidate, [], directory, url, otlp);
        }
        throw new InvalidOperationException(
            $"Local:AspireDashboardPath (or ASPIRE_DASHBOARD_PATH) is '{path}', which is neither an Aspire dashboard ({executable} or Aspire.Dashboard.dll) nor a folder holding one.");
    }

    /// <summary>The Webhooks dashboard's link to one trace here.</summary>
    public string TraceUrlTemplate => AppHostDefaults.TraceUrlTemplate(Url.ToString());

    /// <summary>Starts the dashboard: no sign-in and plain http, as it serves this machine only.</summary>
    public ChildProcess Start(Action<string> output, bool ownSession = false) =>
        ChildProcess.Start("dashboard", FileName, Arguments, output, new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = Url.ToString(),
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = OtlpUrl.ToString(),
            ["DOTNET_DASHBOARD_OTLP_ENDPOINT_URL"] = OtlpUrl.ToString(),
            ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
            ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
            // Standalone: no Aspire resource service to ask for resources (the launch profile names Aspire mode's).
            ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = null,
            ["DOTNET_RESOURCE_SERVICE_ENDPOINT_URL"] = null,
            ["ASPIRE_DASHBOARD_MCP_ENDPOINT_URL"] = null,
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        }, WorkingDirectory, ownSession);
}
