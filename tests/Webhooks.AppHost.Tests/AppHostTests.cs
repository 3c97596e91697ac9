using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Webhooks.AppHost.Tests;

/// <summary>The stack the README starts, end to end: publish, delivery, one trace across the services, crash recovery.</summary>
public sealed class AppHostTests(AppHostFixture stack) : IClassFixture<AppHostFixture>
{
    [Fact]
    public async Task A_message_published_through_the_api_is_handled_by_the_sample_receiver_recorded_and_traced_across_all_three_services()
    {
        using var timeout = new CancellationTokenSource(AppHostFixture.Patience);
        var ct = timeout.Token;
        using var api = stack.Api();
        // The AppHost subscribes the sample receiver once the API is healthy.
        await Until(async () => await SampleIsSubscribedAsync(api, ct), "the sample receiver is subscribed", ct);

        var note = "from the AppHost test " + Guid.NewGuid().ToString("N")[..8];
        using var published = await api.PostAsJsonAsync("/api/v1/apps/sample/messages",
            new { eventType = "order.created", payload = new { n = 42, note } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, published.StatusCode);
        var messageId = (await published.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString();

        // The sample receiver's handler logs each order it handles.
        var handledLine = $"Order 42 created ({note}), webhook {messageId}";
        var sample = stack.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "sample-receiver");
        var logs = stack.App.Services.GetRequiredService<ResourceLoggerService>();
        await foreach (var batch in logs.WatchAsync(sample).WithCancellation(ct))
        {
            if (batch.Any(l => l.Content.Contains(handledLine, StringComparison.Ordinal)))
            {
                break;
            }
        }

        // The engine records the attempt as the receiver's success (recording is batched: polled, not read once).
        JsonElement attempt = default;
        await Until(async () =>
        {
            var attempts = await api.GetFromJsonAsync<JsonElement>($"/api/v1/apps/sample/messages/{messageId}/attempts", ct);
            attempt = attempts.GetProperty("data").EnumerateArray().FirstOrDefault(a => a.GetProperty("succeeded").GetBoolean());
            return attempt.ValueKind == JsonValueKind.Object;
        }, "a succeeded attempt is recorded", ct);
        var traceId = attempt.GetProperty("traceId").GetString();
        Assert.Matches("^[0-9a-f]{32}$", traceId);

        // That trace, in the Aspire dashboard, spans the publish, the worker's claim, signed send and record, and the
        // receiver's verification and handler.
        using var dashboard = stack.Dashboard();
        HashSet<(string Service, string Span)> spans = [];
        await Until(async () =>
        {
            using var response = await dashboard.GetAsync($"/api/telemetry/traces/{traceId}", ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            response.EnsureSuccessStatusCode();
            spans = SpansOf(await response.Content.ReadFromJsonAsync<JsonElement>(ct));
            // Each service exports its spans in batches of its own: wait until all three have reported.
            return spans.Select(s => s.Service).Distinct().Count() == 3
                && spans.Contains(("sample-receiver", "webhook handle")) && spans.Contains(("worker", "webhook record"));
        }, "the trace has spans of api, worker and sample-receiver", ct);
        Assert.Contains(spans, s => s.Service == "api" && s.Span.StartsWith("POST /api/v1/apps/", StringComparison.Ordinal));
        Assert.Contains(("worker", "webhook claim"), spans);
        Assert.Contains(("worker", "webhook deliver"), spans);
        Assert.Contains(("worker", "webhook record"), spans);
        Assert.Contains(("sample-receiver", "webhook verify"), spans);
        Assert.Contains(("sample-receiver", "webhook handle"), spans);
    }

    [Fact]
    public async Task A_worker_killed_with_sigkill_is_restarted_by_the_apphost_while_the_other_keeps_running()
    {
        using var timeout = new CancellationTokenSource(AppHostFixture.Patience);
        var ct = timeout.Token;
        var notifications = stack.App.ResourceNotifications;
        var workers = await RunningWorkersAsync(ct);
        Assert.Equal(2, workers.Count);
        var (victimId, victimPid) = workers[0];
        var (survivorId, survivorPid) = workers[1];

        // The replica runs as 'dotnet run', whose child is the worker itself: the crash is the worker's.
        var worker = ChildOf(victimPid) ?? victimPid;
        using (var killed = Process.GetProcessById(worker))
        {
            killed.Kill();
        }

        var back = await notifications.WaitForResourceAsync("worker", e =>
            e.ResourceId == victimId
            && e.Snapshot.State?.Text == KnownResourceStates.Running
            && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
            && PidOf(e) is { } pid && pid != victimPid, ct);
        Assert.NotEqual(victimPid, PidOf(back));
        var after = await RunningWorkersAsync(ct);
        Assert.Contains((survivorId, survivorPid), after);
    }

    [Fact]
    public async Task A_worker_stopped_through_the_dashboards_stop_command_exits_cleanly_and_stays_stopped_until_started_again()
    {
        using var timeout = new CancellationTokenSource(AppHostFixture.Patience);
        var ct = timeout.Token;
        var notifications = stack.App.ResourceNotifications;
        var commands = stack.App.Services.GetRequiredService<ResourceCommandService>();
        var (id, _) = (await RunningWorkersAsync(ct))[0];

        // Stopped whatever it is doing, even still starting (right after the restart of the SIGKILL test, say).
        // (The command reports a failure when the process takes longer to exit than it waits; it is stopping all the same.)
        await commands.ExecuteCommandAsync(id, KnownResourceCommands.StopCommand, ct);
        var exited = await notifications.WaitForResourceAsync("worker",
            e => e.ResourceId == id && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), ct);
        // Longer than any restart backoff this instance can have reached in these tests (1 s, 2 s): a crash would be back by now.
        await Task.Delay(TimeSpan.FromSeconds(6), ct);
        Assert.True(notifications.TryGetCurrentState(id, out var stopped));
        Assert.True(KnownResourceStates.TerminalStates.Contains(stopped.Snapshot.State?.Text),
            $"The stopped worker is {stopped.Snapshot.State?.Text} again (it exited with code {exited.Snapshot.ExitCode}).");
        // Not the unhandled exception of a start cut short (134): a clean exit, or the code of the signal that ended it.
        Assert.NotEqual(134, stopped.Snapshot.ExitCode);

        Assert.True((await commands.ExecuteCommandAsync(id, KnownResourceCommands.StartCommand, ct)).Success);
        await notifications.WaitForResourceAsync("worker", e => e.ResourceId == id
            && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, ct);
    }

    private async Task<List<(string Id, int Pid)>> RunningWorkersAsync(CancellationToken ct)
    {
        var found = new Dictionary<string, int>();
        await stack.App.ResourceNotifications.WaitForResourceAsync("worker", e =>
        {
            if (e.Snapshot.State?.Text == KnownResourceStates.Running && PidOf(e) is { } pid)
            {
                found[e.ResourceId] = pid;
            }
            return found.Count == 2;
        }, ct);
        return found.Select(f => (f.Key, f.Value)).OrderBy(f => f.Key, StringComparer.Ordinal).ToList();
    }

    private static int? PidOf(ResourceEvent e) =>
        e.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value switch
        {
            int pid => pid,
            long pid => (int)pid,
            string text when int.TryParse(text, out var pid) => pid,
            _ => null,
        };

    private static int? ChildOf(int pid)
    {
        var children = $"/proc/{pid}/task/{pid}/children";
        return File.Exists(children) && File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var first, ..]
            ? int.Parse(first, System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    private static HashSet<(string Service, string Span)> SpansOf(JsonElement trace)
    {
        var spans = new HashSet<(string, string)>();
        foreach (var resourceSpans in trace.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = resourceSpans.GetProperty("resource").GetProperty("attributes").EnumerateArray()
                .Where(a => a.GetProperty("key").GetString() == "service.name")
                .Select(a => a.GetProperty("value").GetProperty("stringValue").GetString())
                .FirstOrDefault() ?? "?";
            foreach (var scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    spans.Add((service, span.GetProperty("name").GetString()!));
                }
            }
        }
        return spans;
    }

    private static async Task<bool> SampleIsSubscribedAsync(HttpClient api, CancellationToken ct)
    {
        using var response = await api.GetAsync("/api/v1/apps/sample/endpoints", ct);
        return response.IsSuccessStatusCode
            && (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("data").GetArrayLength() > 0;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; a service not answering yet (still starting) counts as not yet.</summary>
    private static async Task Until(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        string? last = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException ex) when (!ct.IsCancellationRequested)
            {
                last = ex.Message;
            }
            if (ct.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting until {what}{(last is null ? "" : $" (last error: {last})")}.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None);
        }
    }
}
