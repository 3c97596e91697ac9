using System.Collections.Concurrent;
using System.Diagnostics;

namespace Webhooks.Testing;

/// <summary>What a Node command printed and how it ended (exit code -1: killed at its timeout).</summary>
public sealed record NodeRun(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => $"--- stdout ---{Environment.NewLine}{StandardOutput}{Environment.NewLine}--- stderr ---{Environment.NewLine}{StandardError}";
}

/// <summary>
/// A folder of the repository with a package.json and its lock file, whose scripts run the public npm libraries of other
/// parties (svix, standardwebhooks, octokit, stripe) as independent peers. Installed with <c>npm ci</c> once per run.
/// </summary>
public sealed class NodeFolder(params string[] pathFromRepositoryRoot)
{
    private static readonly ConcurrentDictionary<string, Lazy<Task>> Installs = new(StringComparer.Ordinal);

    public string Folder { get; } = Path.Combine([TestStack.BuildInfo.RepositoryRoot, .. pathFromRepositoryRoot]);

    /// <summary>Runs <c>npm ci</c> there, once, if its packages are not installed yet.</summary>
    public Task EnsureInstalledAsync() => Installs.GetOrAdd(Folder, folder => new Lazy<Task>(() => InstallAsync(folder))).Value;

    /// <summary>Runs <c>node <paramref name="script"/></c> there, after <c>npm ci</c> if its packages are not installed yet.</summary>
    public async Task<NodeRun> RunAsync(string script, string[] arguments, byte[]? stdin = null, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        await EnsureInstalledAsync();
        return await RunProcessAsync(Folder, "node", [script, .. arguments], stdin, environment, timeout ?? TimeSpan.FromMinutes(3));
    }

    private static async Task InstallAsync(string folder)
    {
        if (Directory.Exists(Path.Combine(folder, "node_modules")) &&
            File.GetLastWriteTimeUtc(Path.Combine(folder, "node_modules", ".package-lock.json")) >= File.GetLastWriteTimeUtc(Path.Combine(folder, "package-lock.json")))
        {
            return;
        }
        var run = await RunProcessAsync(folder, "npm", ["ci", "--no-audit", "--no-fund"], null, null, TimeSpan.FromMinutes(5));
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci failed in {folder} (exit {run.ExitCode}):{Environment.NewLine}{run.Output}");
        }
    }

    /// <summary>Runs a command; on timeout kills its whole process tree and reports exit code -1.</summary>
    private static async Task<NodeRun> RunProcessAsync(string folder, string file, string[] arguments, byte[]? stdin,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(stdin);
        }
        process.StandardInput.Close();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new NodeRun(-1, await output,
                $"{file} {string.Join(' ', arguments)} did not finish within {timeout.TotalMinutes} minutes and was killed.{Environment.NewLine}{await error}");
        }
        return new NodeRun(process.ExitCode, await output, await error);
    }
}
