using System.Security.Cryptography;

namespace Webhooks.AppHost;

/// <summary>What the stack starts with when nothing is configured.</summary>
internal static class AppHostDefaults
{
    /// <summary>The development admin key (Webhooks.Api's appsettings.Development.json has the same).</summary>
    public const string AdminApiKey = "wh_admin_dev_0000000000000000000000000000";

    /// <summary>The sample receiver's signing secret (its launchSettings.json has the same).</summary>
    public const string SampleReceiverSecret = "whsec_c2FtcGxlLXJlY2VpdmVyLWRldmVsb3BtZW50LXNlY3JldA==";

    /// <summary>The first http(s) URL of an <c>ASPNETCORE_URLS</c>-style list (<c>a;b</c>), or null.</summary>
    public static string? FirstHttpUrl(string? urls) =>
        urls?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || u.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>The Aspire dashboard's page for one trace, as Webhooks:Dashboard:TraceUrlTemplate wants it.</summary>
    public static string TraceUrlTemplate(string dashboardUrl) => dashboardUrl.TrimEnd('/') + "/traces/detail/{traceId}";

    /// <summary>
    /// The key that encrypts the data protection key ring (and through it the endpoints' signing secrets) at rest: made
    /// once per data folder and kept beside the data it protects (<c>keyring.key</c>, readable by its owner only), so a
    /// data folder and its key never part. A folder from the earlier local mode keeps its key.
    /// </summary>
    public static string KeyRingKey(string dataPath)
    {
        var file = Path.Combine(dataPath, "keyring.key");
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(dataPath);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using var writer = new StreamWriter(file, options);
            writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        }
        return File.ReadAllText(file).Trim();
    }
}
