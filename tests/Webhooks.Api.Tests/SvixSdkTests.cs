using System.Diagnostics;
using Webhooks.Testing;
using Xunit.Abstractions;

namespace Webhooks.Api.Tests;

/// <summary>
/// The public npm <c>svix</c> SDK (2.5.0), run with Node, drives the Svix-compatible surface end to end: applications,
/// event types, endpoints (secrets, headers, rotation), messages, deliveries verified by the SDK's own <c>Webhook</c>,
/// attempts, resend, recover, the app portal and the error bodies. The flow and its assertions are in <c>svix/flow.mjs</c>.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class SvixSdkTests(StackFixture fixture, ITestOutputHelper log)
{
    private static readonly string Folder = Path.Combine(TestStack.BuildInfo.RepositoryRoot, "tests", "Webhooks.Api.Tests", "svix");

    [Fact]
    public async Task The_svix_npm_sdk_runs_its_whole_flow_against_the_api()
    {
        // A stack of its own: a worker of the shared one would deliver the other tests' messages, which expect none to run.
        await using var stack = await fixture.Stack.IsolatedAsync();
        var api = stack.Api;

        if (!File.Exists(Path.Combine(Folder, "node_modules", "svix", "package.json")))
        {
            var (installed, installOutput) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], new Dictionary<string, string>(), TimeSpan.FromMinutes(3));
            Assert.True(installed == 0, $"npm ci failed in {Folder} (exit {installed}):{Environment.NewLine}{installOutput}");
        }

        var environment = new Dictionary<string, string>
        {
            ["SVIX_SERVER_URL"] = api.Url.AbsoluteUri.TrimEnd('/'),
            ["SVIX_TOKEN"] = fixture.Stack.AdminApiKey,
        };
        var (code, output) = await RunAsync("node", ["flow.mjs"], environment, TimeSpan.FromMinutes(4));
        log.WriteLine(output);
        Assert.True(code == 0, $"node flow.mjs exited with {code}:{Environment.NewLine}{output}");
    }

    /// <summary>Runs a command in the svix folder; on timeout kills its whole process tree and reports exit code -1.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        var timedOut = false;
        using (var cancel = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        var text = $"--- stdout ---{Environment.NewLine}{await output}{Environment.NewLine}--- stderr ---{Environment.NewLine}{await error}";
        return timedOut
            ? (-1, $"{file} {string.Join(' ', arguments)} did not finish within {timeout.TotalMinutes} minutes and was killed.{Environment.NewLine}{text}")
            : (process.ExitCode, text);
    }
}
