using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Webhooks.Testing.Processes;

/// <summary>
/// A child process whose output is streamed line by line, prefixed with its name, and which is stopped
/// with SIGTERM (then SIGKILL after a grace period), never left behind.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Action<string> _output;
    private int _disposed;
    private int? _exitCode;

    private ChildProcess(string name, Process process, Action<string> output)
    {
        Name = name;
        _process = process;
        _output = output;
    }

    public string Name { get; }

    /// <summary>The process id, still readable after the process has exited and been disposed.</summary>
    public int Id { get; private set; }

    public bool HasExited => Volatile.Read(ref _disposed) == 1 || _process.HasExited;

    /// <summary>The exit code (128 + the signal's number when a signal ended it), still readable after disposal.</summary>
    public int ExitCode => _exitCode ?? _process.ExitCode;

    public static ChildProcess Start(
        string name, string fileName, IEnumerable<string> arguments, Action<string> output,
        IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // The child inherits this process's environment; a null value removes a variable from it.
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, output);
        process.OutputDataReceived += (_, e) => child.Write(e.Data);
        process.ErrorDataReceived += (_, e) => child.Write(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"{name}: '{fileName}' did not start.");
        }
        child.Id = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public Task WaitForExitAsync(CancellationToken ct = default) => _process.WaitForExitAsync(ct);

    /// <summary>SIGTERM, wait up to <paramref name="grace"/>, then SIGKILL the whole tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
        {
            return;
        }
        try
        {
            if (OperatingSystem.IsWindows() || !Signal(_process.Id, Sigterm))
            {
                _process.Kill(entireProcessTree: true);
            }
            using var timeout = new CancellationTokenSource(grace);
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the signal.
        }
    }

    /// <summary>SIGKILL, at once: a crash, as tests of crash safety need.</summary>
    public void Kill()
    {
        if (!HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _exitCode = _process.ExitCode;
            _process.Dispose();
        }
    }

    private void Write(string? line)
    {
        if (line is not null)
        {
            _output($"[{Name}] {line}");
        }
    }

    private const int Sigterm = 15;

    private static bool Signal(int pid, int signal) => NativeMethods.kill(pid, signal) == 0;

    /// <summary>Whether this process runs as root, where Postgres refuses to run and is started as 'postgres'.</summary>
    public static bool IsRoot => Webhooks.AppHost.Data.MachineBinaries.IsRoot;

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true)]
        internal static partial int kill(int pid, int sig);

    }

    /// <summary>Runs a short command to completion and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout) =>
        Webhooks.AppHost.Data.MachineBinaries.RunAsync(fileName, arguments, timeout);

    /// <summary>Finds an executable on PATH.</summary>
    public static string? FindOnPath(string name) => Webhooks.AppHost.Data.MachineBinaries.FindOnPath(name);
}
