using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.Testing;

namespace Webhooks.AppHost.Tests;

/// <summary>
/// The AppHost as <c>dotnet run --project AppHost</c> starts it on a machine without a container runtime, through
/// Aspire.Hosting.Testing: Postgres and Redis as executables (on free ports, data in a folder of the test's own), the
/// API, two workers, the sample receiver and the Aspire dashboard. Started once for the tests of a class.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private readonly string _data = Path.Combine(Path.GetTempPath(), "webhooks-apphost-" + Guid.NewGuid().ToString("N")[..12]);

    public string AdminKey { get; } = "wh_admin_apphost_test_" + Guid.NewGuid().ToString("N");

    /// <summary>The dashboard's telemetry API key (<c>x-api-key</c>).</summary>
    public string DashboardApiKey { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    public Uri DashboardUrl { get; private set; } = null!;

    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        var ct = timeout.Token;
        // The dashboard on ports of its own; its telemetry API key is set here so the test need not log in.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            new DistributedApplicationTestingBuilderOptions { EnableDashboard = true },
            [
                "--Stack:Infrastructure=executables",
                $"--Stack:DataDirectory={_data}",
                $"--Stack:PostgresPort={FreePort()}",
                $"--Stack:RedisPort={FreePort()}",
                $"--Parameters:admin-api-key={AdminKey}",
                $"--AppHost:DashboardApiKey={DashboardApiKey}",
            ],
            ct);
        App = await builder.BuildAsync(ct);
        await App.StartAsync(ct);
        foreach (var resource in new[] { "postgres", "redis", "api", "worker", "sample-receiver" })
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, ct);
        }
        var login = await App.GetDashboardUrlAsync(ct);
        DashboardUrl = new Uri(login.GetLeftPart(UriPartial.Authority));
    }

    /// <summary>An HTTP client for the API, signed in with the admin key.</summary>
    public HttpClient Api()
    {
        var api = App.CreateHttpClient("api", "http");
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return api;
    }

    /// <summary>An HTTP client for the Aspire dashboard's telemetry API.</summary>
    public HttpClient Dashboard()
    {
        var dashboard = new HttpClient { BaseAddress = DashboardUrl };
        dashboard.DefaultRequestHeaders.Add("x-api-key", DashboardApiKey);
        return dashboard;
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
