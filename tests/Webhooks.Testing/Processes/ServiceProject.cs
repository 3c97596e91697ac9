using System.Reflection;

namespace Webhooks.Testing.Processes;

/// <summary>A service of this repository, run from its build output as <c>dotnet &lt;assembly&gt;</c>.</summary>
public sealed record ServiceProject(string Name, string ProjectDirectory)
{
    public static ServiceProject Api(string repositoryRoot) => new("Webhooks.Api", Path.Combine(repositoryRoot, "Webhooks.Api"));

    public static ServiceProject Worker(string repositoryRoot) => new("Webhooks.Worker", Path.Combine(repositoryRoot, "Webhooks.Worker"));

    public static ServiceProject SampleReceiver(string repositoryRoot) =>
        new("Webhooks.SampleReceiver", Path.Combine(repositoryRoot, "samples", "Webhooks.SampleReceiver"));

    public string AssemblyPath(string configuration) =>
        Path.Combine(ProjectDirectory, "bin", configuration, "net10.0", Name + ".dll");

    /// <summary>Starts the service with the environment Aspire would inject (connection strings, URLs, OTLP).</summary>
    public ChildProcess Start(
        string processName, string configuration, IReadOnlyDictionary<string, string?> environment, Action<string> output)
    {
        var assembly = AssemblyPath(configuration);
        if (!File.Exists(assembly))
        {
            throw new InvalidOperationException($"{assembly} is missing: build the solution first ('dotnet build').");
        }
        return ChildProcess.Start(processName, "dotnet", [assembly], output, environment, ProjectDirectory);
    }

    /// <summary>Waits until <c>GET {baseUrl}/health</c> answers 200, failing early if the process exits.</summary>
    public static async Task WaitHealthyAsync(ChildProcess process, Uri baseUrl, TimeSpan timeout, CancellationToken ct = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited with code {process.ExitCode} before it was healthy (see its log).");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(baseUrl, "/health"), ct);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                last = "timed out";
            }
            await Task.Delay(250, ct);
        }
        throw new TimeoutException($"{process.Name} was not healthy at {baseUrl}health within {timeout.TotalSeconds} s (last: {last}).");
    }

    /// <summary>The repository root and build configuration stamped into an assembly at build time.</summary>
    public static (string RepositoryRoot, string Configuration) BuildInfo(Assembly assembly)
    {
        var metadata = assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        return (metadata["RepositoryRoot"]!, metadata["Configuration"]!);
    }
}
