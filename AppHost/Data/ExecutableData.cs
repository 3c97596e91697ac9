using System.Globalization;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Webhooks.AppHost.Data;

/// <summary>A Postgres server run by Aspire's orchestrator from the machine's binaries; its connection string names one database.</summary>
public sealed class PostgresExecutableResource(string name, string command, string workingDirectory, string database)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public EndpointReference Endpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.Host)};Port={Endpoint.Property(EndpointProperty.Port)};Username=postgres;Database={database}");
}

/// <summary>A Redis server run by Aspire's orchestrator from the machine's <c>redis-server</c>.</summary>
public sealed class RedisExecutableResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public EndpointReference Endpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)}");
}

/// <summary>
/// Postgres and Redis as executables under Aspire's orchestrator, with their data under the stack's data folder (kept
/// across runs). As root, where Postgres refuses to run, it runs as the <c>postgres</c> user through <c>setpriv</c>,
/// which execs the server itself so the orchestrator signals and reaps it directly.
/// </summary>
internal static class ExecutableData
{
    private const string OsUser = "postgres";

    public static async Task<(IResourceBuilder<IResourceWithConnectionString> Database, IResourceBuilder<IResourceWithConnectionString> Redis)> AddAsync(
        IDistributedApplicationBuilder builder, StackSettings settings, string dataPath, string databaseName)
    {
        var postgresData = Path.Combine(dataPath, "postgres");
        var bin = await BinariesForAsync(postgresData);
        await InitialiseAsync(bin, postgresData);
        RefuseLeftoverServer(postgresData);

        var (command, prefix) = MachineBinaries.IsRoot
            ? (MachineBinaries.FindOnPath("setpriv") ?? "/usr/bin/setpriv", new[] { "--reuid", OsUser, "--regid", OsUser, "--init-groups", "--", Path.Combine(bin, "postgres") })
            : (Path.Combine(bin, "postgres"), Array.Empty<string>());
        var port = settings.PostgresPort.ToString(CultureInfo.InvariantCulture);
        var postgres = builder.AddResource(new PostgresExecutableResource("postgres", command, postgresData, databaseName))
            .WithEndpoint(port: settings.PostgresPort, targetPort: settings.PostgresPort, scheme: "tcp", name: "tcp", isProxied: false)
            .WithArgs([.. prefix, "-D", postgresData, "-p", port, "-c", "listen_addresses=localhost", "-c", "unix_socket_directories=",
                "-c", "max_connections=200"])
            .WithHealthCheck(AddPostgresCheck(builder, settings.PostgresPort, databaseName));

        var redisData = Path.Combine(dataPath, "redis");
        Directory.CreateDirectory(redisData);
        var redis = builder.AddResource(new RedisExecutableResource("redis", MachineBinaries.RedisServer()!, redisData))
            .WithEndpoint(port: settings.RedisPort, targetPort: settings.RedisPort, scheme: "tcp", name: "tcp", isProxied: false)
            // Redis holds wake-ups, rate limits and cache invalidations only: a snapshot now and then is plenty.
            // "-::1": IPv6 loopback where the machine has it, skipped where it does not.
            .WithArgs("--port", settings.RedisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "-::1",
                "--dir", redisData, "--save", "300 1", "--appendonly", "no", "--loglevel", "warning")
            .WithHealthCheck(AddRedisCheck(builder, settings.RedisPort));
        return (postgres, redis);
    }

    /// <summary>
    /// initdb on first use of the folder; a folder the earlier local mode made is used as it is. (A stale
    /// postmaster.pid is Postgres's own to clear; a server still running there holds the port, which the port check names.)
    /// </summary>
    private static async Task InitialiseAsync(string bin, string dataDirectory)
    {
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            return;
        }
        Directory.CreateDirectory(dataDirectory);
        if (MachineBinaries.IsRoot)
        {
            var (chown, chownText) = await MachineBinaries.RunAsync("chown", ["-R", $"{OsUser}:{OsUser}", dataDirectory], TimeSpan.FromMinutes(1));
            if (chown != 0)
            {
                throw new InvalidOperationException(
                    $"Running as root, Postgres must run as the '{OsUser}' user, but '{dataDirectory}' could not be given to it: {chownText}");
            }
        }
        if (MachineBinaries.IsRoot
            && (await MachineBinaries.RunAsync("setpriv", ["--reuid", OsUser, "--regid", OsUser, "--init-groups", "--", "test", "-w", dataDirectory], TimeSpan.FromSeconds(10))).ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Postgres runs as the '{OsUser}' user, which cannot reach {dataDirectory} (a parent folder is closed to it, as /root is). " +
                "Set Stack:DataDirectory to a folder it can reach, for example --Stack:DataDirectory=/var/tmp/webhooks-apphost.");
        }
        Console.WriteLine($"Initialising a Postgres data folder in {dataDirectory}…");
        var (code, text) = await RunAsOwnerAsync(bin, "initdb",
            ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], TimeSpan.FromMinutes(2));
        if (code != 0)
        {
            throw new InvalidOperationException($"initdb failed ({code}): {text}");
        }
    }

    /// <summary>
    /// The binaries of the Postgres major version that made the folder (a newer server refuses an older folder), or the
    /// newest for a new folder.
    /// </summary>
    private static async Task<string> BinariesForAsync(string dataDirectory)
    {
        var newest = MachineBinaries.PostgresBin()!;
        var versionFile = Path.Combine(dataDirectory, "PG_VERSION");
        if (!File.Exists(versionFile))
        {
            return newest;
        }
        var major = File.ReadAllText(versionFile).Trim();
        var matching = Path.Combine("/usr/lib/postgresql", major, "bin");
        if (File.Exists(Path.Combine(matching, "postgres")))
        {
            return matching;
        }
        if (File.Exists(Path.Combine(newest, "postgres")) && (await RunVersionAsync(newest))?.StartsWith(major + ".", StringComparison.Ordinal) == true)
        {
            return newest;
        }
        throw new InvalidOperationException(
            $"The Postgres data in {dataDirectory} was made by Postgres {major}, whose binaries are not installed (found {newest}). " +
            $"Install them (Debian/Ubuntu: apt-get install postgresql-{major}), or move that folder away to start with an empty database.");
    }

    private static async Task<string?> RunVersionAsync(string bin)
    {
        try
        {
            var (code, text) = await MachineBinaries.RunAsync(Path.Combine(bin, "postgres"), ["--version"], TimeSpan.FromSeconds(10));
            return code == 0 ? text.Trim().Split(' ').LastOrDefault() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// A server still running on the folder (left by an AppHost and orchestrator that were both killed) would make the new
    /// one fail on its lock file: say which process it is and how to stop it, rather than stop a server this run did not start.
    /// </summary>
    private static void RefuseLeftoverServer(string dataDirectory)
    {
        var lockFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(lockFile)
            || !int.TryParse(File.ReadLines(lockFile).FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
            || !File.Exists($"/proc/{pid}/cmdline")
            || !File.ReadAllText($"/proc/{pid}/cmdline").Contains("postgres", StringComparison.Ordinal))
        {
            return;
        }
        throw new InvalidOperationException(
            $"A Postgres server (pid {pid}) is still running on {dataDirectory}, probably left by an AppHost that was killed. " +
            $"Stop it first: {(MachineBinaries.IsRoot ? "setpriv --reuid postgres --regid postgres --init-groups -- " : "")}" +
            $"{Path.Combine(MachineBinaries.PostgresBin()!, "pg_ctl")} stop -D {dataDirectory} -m fast");
    }

    private static Task<(int, string)> RunAsOwnerAsync(string bin, string program, IEnumerable<string> arguments, TimeSpan timeout) =>
        MachineBinaries.IsRoot
            ? MachineBinaries.RunAsync("setpriv", ["--reuid", OsUser, "--regid", OsUser, "--init-groups", "--", Path.Combine(bin, program), .. arguments], timeout)
            : MachineBinaries.RunAsync(Path.Combine(bin, program), arguments, timeout);

    /// <summary>Healthy once the server takes connections and the database exists (made here on the first run).</summary>
    private static string AddPostgresCheck(IDistributedApplicationBuilder builder, int port, string database)
    {
        const string name = "postgres-ready";
        builder.Services.AddHealthChecks().AddAsyncCheck(name, async ct =>
        {
            try
            {
                await using var connection = new NpgsqlConnection($"Host=localhost;Port={port};Username=postgres;Database=postgres;Timeout=3;Pooling=false");
                await connection.OpenAsync(ct);
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
                exists.Parameters.AddWithValue("name", database);
                if (await exists.ExecuteScalarAsync(ct) is null)
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
                    await create.ExecuteNonQueryAsync(ct);
                }
                return HealthCheckResult.Healthy();
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
            {
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy(ex.Message);
            }
        });
        return name;
    }

    /// <summary>Healthy once the server answers PING.</summary>
    private static string AddRedisCheck(IDistributedApplicationBuilder builder, int port)
    {
        const string name = "redis-ready";
        builder.Services.AddHealthChecks().AddAsyncCheck(name, async ct =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("localhost", port, ct);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), ct);
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer, ct);
                return System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal)
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy("Redis did not answer PING.");
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                return HealthCheckResult.Unhealthy(ex.Message);
            }
        });
        return name;
    }
}
