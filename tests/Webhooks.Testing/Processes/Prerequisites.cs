namespace Webhooks.Testing.Processes;

/// <summary>
/// Makes sure the Postgres and Redis server binaries are on the machine. Where they are missing and this runs as
/// root on a Debian-like system, installs them with apt-get (what a fresh build machine needs); elsewhere it
/// names what to install, as a laptop's owner should decide that.
/// </summary>
public static class Prerequisites
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Returns the problems left (empty when both servers can be started).</summary>
    public static async Task<IReadOnlyList<string>> EnsureAsync(Action<string> output)
    {
        await Gate.WaitAsync();
        try
        {
            var packages = new List<string>();
            if (LocalPostgres.FindBinaries() is null)
            {
                packages.Add("postgresql");
            }
            if (LocalRedis.FindBinary() is null)
            {
                packages.Add("redis-server");
            }
            if (packages.Count > 0 && ChildProcess.IsRoot && ChildProcess.FindOnPath("apt-get") is { } aptGet)
            {
                output($"[setup] installing {string.Join(", ", packages)} with apt-get (running as root)");
                await ChildProcess.RunAsync(aptGet, ["update", "-qq"], TimeSpan.FromMinutes(5));
                var (code, text) = await ChildProcess.RunAsync("env",
                    ["DEBIAN_FRONTEND=noninteractive", aptGet, "install", "-y", "-qq", "--no-install-recommends", .. packages], TimeSpan.FromMinutes(10));
                if (code != 0)
                {
                    output($"[setup] apt-get failed ({code}): {text}");
                }
            }
            var problems = new List<string>();
            if (LocalPostgres.FindBinaries() is null)
            {
                problems.Add(LocalPostgres.InstallHint);
            }
            if (LocalRedis.FindBinary() is null)
            {
                problems.Add(LocalRedis.InstallHint);
            }
            return problems;
        }
        finally
        {
            Gate.Release();
        }
    }
}
