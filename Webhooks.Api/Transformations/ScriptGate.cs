using System.Collections.Concurrent;

namespace Webhooks.Api.Transformations;

/// <summary>Thrown when a script would run past <see cref="ScriptGate"/>'s caps: answered 429 with Retry-After.</summary>
public sealed class ScriptsBusyException(string message) : Exception(message);

/// <summary>
/// Transformation scripts run in the API (previews, save-time checks) only a few at a time: at most half the cores at
/// once in the process, and one at a time per application. A script may spend its whole second of CPU; past the caps the
/// caller gets 429 at once instead of queueing, so hostile previews cannot take the cores that serve health checks and
/// publishing.
/// </summary>
public static class ScriptGate
{
    public static readonly int PerProcess = Math.Max(1, Environment.ProcessorCount / 2);
    public const int PerApplication = 1;

    private static readonly SemaphoreSlim Process = new(PerProcess, PerProcess);
    private static readonly ConcurrentDictionary<string, int> Running = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="script"/> now, or throws <see cref="ScriptsBusyException"/> when a cap is reached.</summary>
    public static T Run<T>(string? applicationId, Func<T> script)
    {
        if (applicationId is not null)
        {
            var running = Running.AddOrUpdate(applicationId, 1, (_, n) => n + 1);
            if (running > PerApplication)
            {
                Leave(applicationId);
                throw new ScriptsBusyException($"This application already has {PerApplication} transformation running; retry in a second.");
            }
        }
        if (!Process.Wait(0))
        {
            if (applicationId is not null)
            {
                Leave(applicationId);
            }
            throw new ScriptsBusyException("Too many transformations are running on this server; retry in a second.");
        }
        try
        {
            return script();
        }
        finally
        {
            Process.Release();
            if (applicationId is not null)
            {
                Leave(applicationId);
            }
        }
    }

    private static void Leave(string applicationId)
    {
        if (Running.AddOrUpdate(applicationId, 0, (_, n) => n - 1) <= 0)
        {
            Running.TryRemove(new KeyValuePair<string, int>(applicationId, 0));
        }
    }
}
