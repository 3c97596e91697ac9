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
    private static readonly NodeFolder Svix = new("tests", "Webhooks.Api.Tests", "svix");

    [Fact]
    public async Task The_svix_npm_sdk_runs_its_whole_flow_against_the_api()
    {
        // A stack of its own: a worker of the shared one would deliver the other tests' messages, which expect none to run.
        await using var stack = await fixture.Stack.IsolatedAsync();
        var environment = new Dictionary<string, string>
        {
            ["SVIX_SERVER_URL"] = stack.Api.Url.AbsoluteUri.TrimEnd('/'),
            ["SVIX_TOKEN"] = fixture.Stack.AdminApiKey,
        };
        var run = await Svix.RunAsync("flow.mjs", [], environment: environment, timeout: TimeSpan.FromMinutes(4));
        log.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"node flow.mjs exited with {run.ExitCode}:{Environment.NewLine}{run.Output}");
    }
}
