namespace Webhooks.Testing.Processes;

/// <summary>
/// Makes sure the Postgres and Redis server binaries are on the machine, as the AppHost does (installed with apt-get when
/// root on a Debian-like system; otherwise the command to run is said).
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
            return await Webhooks.AppHost.Data.MachineBinaries.EnsureAsync(output) is { } problem ? [problem] : [];
        }
        finally
        {
            Gate.Release();
        }
    }
}
