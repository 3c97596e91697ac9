using System.Globalization;

namespace Webhooks.AppHost.Local;

/// <summary>
/// Keeps child processes running as an orchestrator would. A process that exits without being asked to is
/// started again after a backoff while the others keep running, and each such exit is reported in one line
/// (<c>worker-1 exited with code 137; restarting in 1 s (restart 1)</c>). Stopping cancels every pending restart
/// first, then stops each process once the processes that depend on it have stopped.
/// </summary>
public sealed class Supervisor : IAsyncDisposable
{
    private readonly Action<string> _output;
    private readonly RestartBackoff _backoff;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping;
    private readonly List<SupervisedProcess> _processes = [];
    private Task? _stopped;

    /// <param name="output">Where the one-line reports go.</param>
    /// <param name="backoff">The delays between restarts; <see cref="RestartBackoff.Default"/> when null.</param>
    /// <param name="time">The clock for those delays.</param>
    /// <param name="stopping">
    /// Cancelled when the stack is stopping (Ctrl+C): from then on no process is restarted, even before
    /// <see cref="StopAsync"/> is called, as the signal may reach the children too and end them first.
    /// </param>
    public Supervisor(Action<string> output, RestartBackoff? backoff = null, TimeProvider? time = null, CancellationToken stopping = default)
    {
        _output = output;
        _backoff = backoff ?? RestartBackoff.Default;
        _time = time ?? TimeProvider.System;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>
    /// Starts a process with <paramref name="start"/> and supervises it: the same delegate starts it again after
    /// an exit nobody asked for. A failure of this first start is thrown, as it is a problem to fix, not to retry.
    /// </summary>
    /// <param name="start">Starts the process and returns once it is ready (a server accepting connections).</param>
    /// <param name="stop">Stops it on request; SIGTERM, then SIGKILL after 15 s when null.</param>
    /// <param name="dependsOn">Processes it uses, which are stopped only after it.</param>
    public async Task<SupervisedProcess> StartAsync(
        string name, Func<CancellationToken, Task<ChildProcess>> start, Func<ChildProcess, Task>? stop = null,
        IReadOnlyList<SupervisedProcess>? dependsOn = null, CancellationToken ct = default)
    {
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        var process = await start(starting.Token);
        var supervised = new SupervisedProcess(name, process, start, stop ?? (p => p.StopAsync(TimeSpan.FromSeconds(15))), dependsOn ?? []);
        lock (_processes)
        {
            if (_stopped is null)
            {
                _processes.Add(supervised);
                supervised.Watch(_backoff, _time, _output, _stopping.Token);
                return supervised;
            }
        }
        await supervised.StopAsync([], _output);
        throw new OperationCanceledException("The supervisor is stopping.");
    }

    /// <summary>Supervises a process that is ready once started, such as a service whose health is awaited apart.</summary>
    public Task<SupervisedProcess> StartAsync(
        string name, Func<ChildProcess> start, IReadOnlyList<SupervisedProcess>? dependsOn = null, CancellationToken ct = default) =>
        StartAsync(name, _ => Task.FromResult(start()), stop: null, dependsOn, ct);

    /// <summary>Stops every process, dependents before what they depend on, restarting none. Idempotent.</summary>
    public Task StopAsync()
    {
        lock (_processes)
        {
            return _stopped ??= StopAllAsync([.. _processes]);
        }
    }

    private async Task StopAllAsync(SupervisedProcess[] processes)
    {
        await _stopping.CancelAsync();
        // Reverse start order: whatever depends on a process was started after it, so its stop is already known.
        var stops = new Dictionary<SupervisedProcess, Task>();
        for (var i = processes.Length - 1; i >= 0; i--)
        {
            var process = processes[i];
            var dependents = processes.Skip(i + 1).Where(p => p.DependsOn.Contains(process)).Select(p => stops[p]).ToArray();
            stops[process] = process.StopAsync(dependents, _output);
        }
        await Task.WhenAll(stops.Values);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }
}

/// <summary>A process kept running by a <see cref="Supervisor"/>; <see cref="Process"/> is the current incarnation.</summary>
public sealed class SupervisedProcess
{
    private readonly Func<CancellationToken, Task<ChildProcess>> _start;
    private readonly Func<ChildProcess, Task> _stop;
    private ChildProcess _process;
    private int _restarts;
    private Task _watching = Task.CompletedTask;

    internal SupervisedProcess(
        string name, ChildProcess process, Func<CancellationToken, Task<ChildProcess>> start, Func<ChildProcess, Task> stop,
        IReadOnlyList<SupervisedProcess> dependsOn)
    {
        Name = name;
        _process = process;
        _start = start;
        _stop = stop;
        DependsOn = dependsOn;
    }

    public string Name { get; }

    /// <summary>The process running now (or the one that just exited, until its restart).</summary>
    public ChildProcess Process => Volatile.Read(ref _process);

    /// <summary>How many restarts have been announced.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    internal IReadOnlyList<SupervisedProcess> DependsOn { get; }

    internal void Watch(RestartBackoff backoff, TimeProvider time, Action<string> output, CancellationToken stopping) =>
        _watching = WatchAsync(backoff, time, output, stopping);

    private async Task WatchAsync(RestartBackoff backoff, TimeProvider time, Action<string> output, CancellationToken stopping)
    {
        var crashes = 0;
        var startedAt = time.GetTimestamp();
        while (true)
        {
            var exited = Process;
            try
            {
                await exited.WaitForExitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (stopping.IsCancellationRequested)
            {
                return;
            }
            var report = $"{Name} exited with code {exited.ExitCode}";
            await exited.DisposeAsync();
            // Consecutive crashes back off further; a run that lasted starts the count again.
            crashes = time.GetElapsedTime(startedAt) >= backoff.ResetAfter ? 1 : crashes + 1;
            while (true)
            {
                var delay = backoff.Delay(crashes);
                output($"{report}; restarting in {Format(delay)} (restart {Interlocked.Increment(ref _restarts)})");
                try
                {
                    await Task.Delay(delay, time, stopping);
                    Volatile.Write(ref _process, await _start(stopping));
                    startedAt = time.GetTimestamp();
                    break;
                }
                catch (Exception) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    report = $"{Name} did not start ({ex.Message.ReplaceLineEndings(" ")})";
                    crashes++;
                }
            }
        }
    }

    internal async Task StopAsync(Task[] dependentsStopped, Action<string> output)
    {
        await Task.WhenAll(dependentsStopped);
        await _watching;
        var process = Process;
        try
        {
            if (!process.HasExited)
            {
                await _stop(process);
            }
        }
        catch (Exception ex)
        {
            output($"{Name} did not stop cleanly ({ex.Message.ReplaceLineEndings(" ")}); signalling it to stop");
        }
        // SIGTERM, then SIGKILL: whatever happened above, nothing is left running.
        await process.DisposeAsync();
    }

    private static string Format(TimeSpan delay) =>
        delay.TotalSeconds.ToString(delay < TimeSpan.FromSeconds(1) ? "0.###" : "0.#", CultureInfo.InvariantCulture) + " s";
}

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
