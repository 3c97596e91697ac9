using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Webhooks.AppHost.Local;
using Webhooks.Testing;

namespace Webhooks.EndToEnd.Tests;

/// <summary>
/// Local mode's Aspire dashboard: found where the setting points, started at the launch profile's addresses with what a
/// standalone dashboard needs, and linked from the Webhooks dashboard. The Aspire dashboard itself is not served here, so
/// a stand-in executable records how it was started; what it would do with that is Aspire's.
/// </summary>
public sealed class LocalDashboardTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("aspire-dashboard-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Nothing_configured_means_no_dashboard()
    {
        Assert.Null(LocalDashboard.Find(Settings()));
        Assert.Null(LocalDashboard.Find(Settings(("Local:AspireDashboardPath", ""), ("ASPIRE_DASHBOARD_PATH", " "))));
    }

    [Fact]
    public void A_folder_holding_the_dll_runs_it_with_dotnet_at_the_profile_addresses()
    {
        File.WriteAllText(Path.Combine(_folder, "Aspire.Dashboard.dll"), "");
        var dashboard = LocalDashboard.Find(Settings(("ASPIRE_DASHBOARD_PATH", _folder),
            ("ASPNETCORE_URLS", "https://localhost:17000;http://localhost:15000"), ("ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", "http://localhost:19999")))!;
        Assert.Equal("dotnet", dashboard.FileName);
        Assert.Equal([Path.Combine(_folder, "Aspire.Dashboard.dll")], dashboard.Arguments);
        Assert.Equal(new Uri("https://localhost:17000"), dashboard.Url);
        Assert.Equal(new Uri("http://localhost:19999"), dashboard.OtlpUrl);
        Assert.Equal("https://localhost:17000/traces/detail/{traceId}", dashboard.TraceUrlTemplate);
    }

    [Fact]
    public void The_setting_wins_over_the_environment_variable_and_defaults_are_the_templates_addresses()
    {
        var executable = Path.Combine(_folder, "Aspire.Dashboard");
        File.WriteAllText(executable, "");
        var dashboard = LocalDashboard.Find(Settings(("Local:AspireDashboardPath", executable), ("ASPIRE_DASHBOARD_PATH", "/nowhere")))!;
        Assert.Equal(executable, dashboard.FileName);
        Assert.Empty(dashboard.Arguments);
        Assert.Equal(new Uri("http://localhost:18888"), dashboard.Url);
        Assert.Equal(new Uri("http://localhost:18889"), dashboard.OtlpUrl);
    }

    [Fact]
    public void A_path_that_holds_no_dashboard_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalDashboard.Find(Settings(("Local:AspireDashboardPath", _folder))));
        Assert.Contains("Local:AspireDashboardPath", error.Message, StringComparison.Ordinal);
        Assert.Contains(_folder, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Started_standalone_it_gets_its_addresses_anonymous_access_and_no_resource_service()
    {
        var record = Path.Combine(_folder, "environment.txt");
        var executable = Path.Combine(_folder, "Aspire.Dashboard");
        File.WriteAllText(executable, $"#!/bin/sh\nenv > '{record}'\n");
        File.SetUnixFileMode(executable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var dashboard = LocalDashboard.Find(Settings(("Local:AspireDashboardPath", _folder)))!;

        var output = new ConcurrentQueue<string>();
        Environment.SetEnvironmentVariable("ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL", "http://localhost:22057");
        try
        {
            await using var process = dashboard.Start(output.Enqueue);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL", null);
        }

        var environment = File.ReadAllLines(record).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("http://localhost:18888/", environment["ASPNETCORE_URLS"]);
        Assert.Equal("http://localhost:18889/", environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"]);
        Assert.Equal("true", environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"]);
        // The launch profile names Aspire mode's resource service; a standalone dashboard has none to ask.
        Assert.False(environment.ContainsKey("ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"));
        Assert.Equal(_folder, environment["PWD"]);
    }
}
