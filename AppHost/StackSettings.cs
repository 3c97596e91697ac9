using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Webhooks.AppHost;

/// <summary>How Postgres and Redis run: as containers, or as executables from the machine's own binaries.</summary>
public enum DataInfrastructure
{
    /// <summary>Containers where a container runtime is found, executables otherwise.</summary>
    Auto,
    Containers,
    Executables,
}

/// <summary>The AppHost's own settings (section <c>Stack</c> of appsettings.json, or <c>--Stack:Key=value</c>).</summary>
public sealed class StackSettings
{
    public const string SectionName = "Stack";

    public DataInfrastructure Infrastructure { get; set; } = DataInfrastructure.Auto;

    /// <summary>Postgres's port on 127.0.0.1 when it runs as an executable.</summary>
    [Range(1, 65535)]
    public int PostgresPort { get; set; } = 15432;

    /// <summary>Redis's port on 127.0.0.1 when it runs as an executable.</summary>
    [Range(1, 65535)]
    public int RedisPort { get; set; } = 16379;

    /// <summary>Worker replicas.</summary>
    [Range(1, 16)]
    public int Workers { get; set; } = 2;

    /// <summary>
    /// Where the executables keep their data and the key-ring key lives: relative to the repository root, or absolute.
    /// Kept across runs; the same folder the earlier local mode used.
    /// </summary>
    [Required]
    public string DataDirectory { get; set; } = ".apphost";

    public static StackSettings From(IConfiguration configuration)
    {
        var settings = new StackSettings();
        configuration.GetSection(SectionName).Bind(settings);
        var problems = new List<ValidationResult>();
        if (!Validator.TryValidateObject(settings, new ValidationContext(settings), problems, validateAllProperties: true))
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, problems.Select(p => $"{SectionName}:{p.MemberNames.FirstOrDefault()}: {p.ErrorMessage}")));
        }
        return settings;
    }

    /// <summary>The data folder as an absolute path (relative ones from the repository root, the AppHost's parent).</summary>
    public string DataPath(string appHostDirectory) =>
        Path.GetFullPath(Path.Combine(appHostDirectory, "..", DataDirectory));

    /// <summary>Whether to use containers: as configured, or where a Docker or Podman socket (or DOCKER_HOST) is found.</summary>
    public bool UseContainers() => Infrastructure switch
    {
        DataInfrastructure.Containers => true,
        DataInfrastructure.Executables => false,
        _ => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST"))
            || File.Exists("/var/run/docker.sock")
            || File.Exists("/run/podman/podman.sock")
            || (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && File.Exists(Path.Combine(runtime, "podman", "podman.sock"))),
    };
}
