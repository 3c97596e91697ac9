using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Webhooks.AppHost.Tests;

/// <summary>The AppHost run as a developer runs it, where it must refuse to start and say why.</summary>
public sealed class StartupRefusalTests
{
    [Fact]
    public async Task A_taken_port_is_named_with_its_resource_and_the_apphost_exits_instead_of_hanging()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var data = Path.Combine(Path.GetTempPath(), "webhooks-apphost-refusal-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var (exitCode, output) = await RunAppHostAsync(
                "--Stack:Infrastructure=executables", $"--Stack:DataDirectory={data}", $"--Stack:PostgresPort={taken}",
                $"--Stack:RedisPort={AppHostFixture.FreePort()}", $"--ASPNETCORE_URLS=http://localhost:{AppHostFixture.FreePort()}",
                $"--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:{AppHostFixture.FreePort()}", "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true");

            Assert.Equal(2, exitCode);
            Assert.Contains($"port {taken} for postgres (tcp) is in use by another program", output, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAppHostAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AppHost.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The AppHost did not exit within 2 minutes: " + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
