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
/// A service, Postgres or Redis that exits with a failure while the AppHost runs (a crash, <c>kill -9</c>) is started
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
        public bool Pending;
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
            if ((state != KnownResourceStates.Exited && state != KnownResourceStates.Finished)
                || update.Snapshot.ExitCode is null or 0
                || instance.Pending
                || lifetime.ApplicationStopping.IsCancellationRequested)
            {
                continue;
            }
            var ranFor = instance.RunningSince == 0 ? TimeSpan.Zero : time.GetElapsedTime(instance.RunningSince);
            instance.Crashes = ranFor >= _backoff.ResetAfter ? 1 : instance.Crashes + 1;
            instance.Pending = true;
            var delay = _backoff.Delay(instance.Crashes);
            LogRestarting(update.ResourceId, update.Snapshot.ExitCode.Value, delay.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture),
                Interlocked.Increment(ref _restarts));
            _ = RestartAsync(update.ResourceId, instance, delay, stoppingToken);
        }
    }

    private async Task RestartAsync(string resourceId, Instance instance, TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, time, ct);
            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return;
            }
            var result = await commands.ExecuteCommandAsync(resourceId, KnownResourceCommands.RestartCommand, ct);
            if (!result.Success)
            {
                LogRestartFailed(resourceId, result.Message ?? "no reason given");
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogRestartFailed(resourceId, ex.Message);
        }
        finally
        {
            instance.Pending = false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource} exited with code {ExitCode}; restarting in {DelaySeconds} s (restart {Restart})")]
    private partial void LogRestarting(string resource, int exitCode, string delaySeconds, int restart);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Resource} could not be restarted: {Reason}")]
    private partial void LogRestartFailed(string resource, string reason);
}
