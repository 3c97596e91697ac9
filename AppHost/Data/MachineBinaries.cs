using System.Diagnostics;

namespace Webhooks.AppHost.Data;

/// <summary>
/// The Postgres and Redis servers of this machine, for running them as executables where no container runtime is.
/// Missing ones are installed with apt-get when running as root on a Debian-like system (a fresh build machine);
/// anywhere else the exact command to run is said instead, as a laptop's owner should decide that.
/// </summary>
internal static class MachineBinaries
{
    /// <summary>The folder of initdb/postgres/pg_ctl: <c>PG_BIN</c>, Debian's /usr/lib/postgresql/N/bin (newest), or PATH.</summary>
    public static string? PostgresBin()
    {
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } configured && File.Exists(Path.Combine(configured, "postgres")))
        {
            return configured;
        }
        const string debian = "/usr/lib/postgresql";
        if (Directory.Exists(debian))
        {
            var newest = Directory.GetDirectories(debian)
                .Select(d => (Directory: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Directory, "bin", "postgres")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Directory is not null)
            {
                return Path.Combine(newest.Directory, "bin");
            }
        }
        return FindOnPath("pg_ctl") is { } pgCtl ? Path.GetDirectoryName(pgCtl) : null;
    }

    /// <summary><c>REDIS_SERVER</c>, or redis-server on PATH.</summary>
    public static string? RedisServer() =>
        Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } configured && File.Exists(configured)
            ? configured
            : FindOnPath("redis-server");

    public static bool IsRoot => !OperatingSystem.IsWindows() && Environment.UserName == "root";

    /// <summary>
    /// Makes sure both servers can be started: installs what is missing when root with apt-get. Returns null when both
    /// are there, or the message to show (with the exact command to run) when not.
    /// </summary>
    public static async Task<string?> EnsureAsync(Action<string> output)
    {
        var missing = Missing();
        if (missing.Count > 0 && IsRoot && FindOnPath("apt-get") is { } aptGet)
        {
            output($"Installing {string.Join(" and ", missing)} with apt-get (running as root, no container runtime)…");
            await RunAsync(aptGet, ["update", "-qq"], TimeSpan.FromMinutes(5));
            var (code, text) = await RunAsync("env",
                ["DEBIAN_FRONTEND=noninteractive", aptGet, "install", "-y", "-qq", "--no-install-recommends", .. missing], TimeSpan.FromMinutes(10));
            if (code != 0)
            {
                output($"apt-get install failed ({code}): {text.Trim()}");
            }
            missing = Missing();
        }
        if (missing.Count == 0)
        {
            return null;
        }
        var install = OperatingSystem.IsMacOS()
            ? "brew install " + string.Join(' ', missing.Select(p => p == "postgresql" ? "postgresql@16" : "redis"))
            : FindOnPath("apt-get") is not null
                ? "sudo apt-get install " + string.Join(' ', missing)
                : "install the packages " + string.Join(" and ", missing) + " with your system's package manager";
        return $"No container runtime was found, so Postgres and Redis run from this machine's binaries, but {string.Join(" and ", missing)} " +
            $"{(missing.Count == 1 ? "is" : "are")} not installed. Run:{Environment.NewLine}    {install}{Environment.NewLine}" +
            "then start the AppHost again (or set PG_BIN / REDIS_SERVER to where they are, or start a container runtime).";
    }

    private static List<string> Missing()
    {
        var missing = new List<string>();
        if (PostgresBin() is null)
        {
            missing.Add("postgresql");
        }
        if (RedisServer() is null)
        {
            missing.Add("redis-server");
        }
        return missing;
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Runs a program to its end and returns its exit code and its output (both streams).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} could not be started.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{fileName} did not finish within {timeout.TotalSeconds} s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
