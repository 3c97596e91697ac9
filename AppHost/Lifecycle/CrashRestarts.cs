using System.Collections.Concurrent;
using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Webhooks.AppHost.Lifecycle;

/// <summary>
/// The wait before restarting a process that exited: <see cref="First"/>, doubling with each further crash up to
/// <see cref="Max"/>, and back to <see cref="First"/> once a run has lasted <see cref="ResetAfter"/>.
/// </summary>
public sealed record RestartBackoff(TimeSpan First, TimeSpan Max, TimeSpan ResetAfter)
{
    /// <summary>1 s, 2 s, 4 s … at most 30 s; reset after a minute up.</summary>
    public static RestartBackoff Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1));

    /// <summary>The wait before the restart after the <paramref name="crash"/>-th crash in a row (from 1).</summary>
    public TimeSpan Delay(int crash) =>
        TimeSpan.FromTicks(Math.Min(Max.Ticks, First.Ticks << Math.Clamp(crash - 1, 0, 20)));
}

/// <summary>
/// A service (or, run as executables, Postgres or Redis) that exits with a failure while the AppHost runs (a crash, <c>kill -9</c>) is started
/// again through Aspire's own restart command, after <see cref="RestartBackoff"/>, while the others keep running.
/// A clean exit (the dashboard's Stop, SIGTERM) is left alone, and so is everything once the AppHost is stopping.
/// </summary>
internal sealed partial class CrashRestarts(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<CrashRestarts> logger) : BackgroundService
{
    private readonly RestartBackoff _backoff = RestartBackoff.Default;
    private readonly ConcurrentDictionary<string, Instance> _instances = new();
    private int _restarts;

    private sealed class Instance
    {
        public long RunningSince;
        public string? LastState;
        public int Crashes;
        // The run whose exit was already acted on (its process id): a snapshot of that exit seen again is not a new crash.
        public string? HandledRun;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var update in notifications.WatchAsync(stoppingToken))
        {
            if (update.Resource is not (ProjectResource or ExecutableResource))
            {
                continue;
            }
            var instance = _instances.GetOrAdd(update.ResourceId, _ => new Instance());
            var state = update.Snapshot.State?.Text;
            if (state == KnownResourceStates.Running && instance.LastState != KnownResourceStates.Running)
            {
                instance.RunningSince = time.GetTimestamp();
            }
            instance.LastState = state;
            var run = RunOf(update);
            if (state == KnownResourceStates.Stopping)
            {
                // Asked to stop (the dashboard's Stop, a restart): however this run ends, even killed after the stop's
                // timeout, it is not a crash.
                instance.HandledRun = run;
                continue;
            }
            if (!IsCrash(update) || lifetime.ApplicationStopping.IsCancellationRequested)
            {
                continue;
            }
            if (run == instance.HandledRun)
            {
                continue;
            }
            instance.HandledRun = run;
            var ranFor = instance.RunningSince == 0 ? TimeSpan.Zero : time.GetElapsedTime(instance.RunningSince);
            instance.Crashes = ranFor >= _backoff.ResetAfter ? 1 : instance.Crashes + 1;
            var delay = _backoff.Delay(instance.Crashes);
            LogRestarting(update.ResourceId, update.Snapshot.ExitCode!.Value, delay.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture),
                Interlocked.Increment(ref _restarts));
            _ = RestartAsync(update.ResourceId, run, delay, stoppingToken);
        }
    }

    /// <summary>
    /// Exited or finished with a failure code: a crash (134), a <c>kill -9</c> (137). Not a stop: 0, or the code of a
    /// SIGTERM (143) or SIGINT (130) that ended it, as <c>dotnet run</c> reports when the orchestrator's Stop reaches it first.
    /// </summary>
    private static bool IsCrash(ResourceEvent update) =>
        (update.Snapshot.State?.Text == KnownResourceStates.Exited || update.Snapshot.State?.Text == KnownResourceStates.Finished)
        && update.Snapshot.ExitCode is not (null or 0 or 130 or 143);

    private static string? RunOf(ResourceEvent update) =>
        update.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString()
        ?? update.Snapshot.StartTimeStamp?.Ticks.ToString(CultureInfo.InvariantCulture);

    private async Task RestartAsync(string resourceId, string? run, TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, time, ct);
            // Only the run that crashed is restarted: not one somebody started meanwhile (the dashboard's Start), nor
            // anything once the AppHost is stopping.
            if (lifetime.ApplicationStopping.IsCancellationRequested
                || !notifications.TryGetCurrentState(resourceId, out var current)
                || !IsCrash(current) || RunOf(current) != run)
            {
                return;
            }
            var result = await commands.ExecuteCommandAsync(resourceId, KnownResourceCommands.RestartCommand, ct);
            if (!result.Success && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                LogRestartFailed(resourceId, result.Message ?? "no reason given");
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogRestartFailed(resourceId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource} exited with code {ExitCode}; restarting in {DelaySeconds} s (restart {Restart})")]
    private partial void LogRestarting(string resource, int exitCode, string delaySeconds, int restart);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Resource} could not be restarted: {Reason}")]
    private partial void LogRestartFailed(string resource, string reason);
}
