using System.Net;
using System.Net.Sockets;

namespace Webhooks.Testing.Processes;

/// <summary>
/// A Postgres server from the machine's own binaries, on 127.0.0.1: initdb on first use of the data folder
/// (data survives restarts), the server as a child process, stopped with <c>pg_ctl stop -m fast</c>.
/// As root (where Postgres refuses to run), the folder is given to the 'postgres' user and every command
/// runs as that user through <c>setpriv</c>; as anyone else, as that user.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    public const string Superuser = "postgres";
    private const string OsUser = "postgres";

    private readonly string _bin;
    private readonly string _dataDirectory;
    private readonly Action<string> _output;
    private readonly bool _durable;
    private IReadOnlyList<string> _settings = [];
    private ChildProcess? _server;

    private LocalPostgres(string bin, string dataDirectory, int port, Action<string> output, bool durable)
    {
        _bin = bin;
        _dataDirectory = dataDirectory;
        Port = port;
        _output = output;
        _durable = durable;
    }

    public int Port { get; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username={Superuser};Database={database};Pooling=true;Maximum Pool Size=50;Timeout=15";

    /// <summary>The folder of initdb/postgres/pg_ctl: <c>PG_BIN</c>, Debian's /usr/lib/postgresql/N/bin (newest), or PATH.</summary>
    public static string? FindBinaries() => Webhooks.AppHost.Data.MachineBinaries.PostgresBin();

    public const string InstallHint =
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) were not found. Install them — Debian/Ubuntu: " +
        "'apt-get install postgresql', macOS: 'brew install postgresql@16' — or set PG_BIN to their folder.";

    /// <summary>
    /// Starts (initialising on first use) a server on <paramref name="port"/> and creates <paramref name="databases"/>;
    /// <paramref name="settings"/> are further <c>name=value</c> server settings.
    /// </summary>
    public static async Task<LocalPostgres> StartAsync(
        string dataDirectory, int port, Action<string> output, IEnumerable<string> databases, bool durable = true,
        IReadOnlyList<string>? settings = null, CancellationToken ct = default)
    {
        var postgres = await PrepareAsync(dataDirectory, port, output, durable);
        postgres._settings = settings ?? [];
        await postgres.StartServerAsync(ct);
        try
        {
            foreach (var database in databases)
            {
                await postgres.CreateDatabaseAsync(database);
            }
        }
        catch
        {
            await postgres.StopServerAsync();
            throw;
        }
        return postgres;
    }

    /// <summary>
    /// Readies the data folder (initdb on first use, a server left running by a killed run stopped) and checks the
    /// port is free; <see cref="StartServerAsync"/> then starts the server.
    /// </summary>
    public static async Task<LocalPostgres> PrepareAsync(string dataDirectory, int port, Action<string> output, bool durable = true)
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException(InstallHint);
        var postgres = new LocalPostgres(bin, Path.GetFullPath(dataDirectory), port, output, durable);
        await postgres.InitialiseAsync();
        await postgres.StopLeftoverAsync();
        EnsurePortFree(port, "Postgres");
        return postgres;
    }

    /// <summary>
    /// Starts the server on this folder and port and waits until it accepts connections — also after a crash, where
    /// Postgres recovers from its write-ahead log. A server that does not get ready is stopped before this throws.
    /// </summary>
    public async Task<ChildProcess> StartServerAsync(CancellationToken ct = default)
    {
        if (_server is { HasExited: false })
        {
            throw new InvalidOperationException($"Postgres is already running on port {Port}.");
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        var settings = new List<string>
        {
            "-D", _dataDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200",
        };
        foreach (var setting in _settings)
        {
            settings.AddRange(["-c", setting]);
        }
        if (!_durable)
        {
            // Throwaway test servers: durability buys nothing and costs seconds.
            settings.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        var server = StartAsOwner("postgres", settings, _output);
        _server = server;
        try
        {
            await WaitUntilReadyAsync(server, ct);
        }
        catch
        {
            await StopServerAsync();
            throw;
        }
        return server;
    }

    private async Task InitialiseAsync()
    {
        if (File.Exists(Path.Combine(_dataDirectory, "PG_VERSION")))
        {
            return;
        }
        Directory.CreateDirectory(_dataDirectory);
        await GiveToOwnerAsync(_dataDirectory);
        _output($"[postgres] initialising {_dataDirectory}");
        var (code, text) = await RunAsOwnerAsync("initdb",
            ["-D", _dataDirectory, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], TimeSpan.FromMinutes(2));
        if (code != 0)
        {
            throw new InvalidOperationException($"initdb failed ({code}): {text}");
        }
    }

    private async Task GiveToOwnerAsync(string directory)
    {
        if (!ChildProcess.IsRoot)
        {
            return;
        }
        var (code, text) = await ChildProcess.RunAsync("chown", ["-R", $"{OsUser}:{OsUser}", directory], TimeSpan.FromMinutes(1));
        if (code != 0)
        {
            throw new InvalidOperationException(
                $"Running as root, Postgres must run as the '{OsUser}' user, but '{directory}' could not be given to it: {text}");
        }
    }

    /// <summary>A server left running by a previous run that was killed: stop it, so this run owns the folder.</summary>
    private async Task StopLeftoverAsync()
    {
        if (File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")))
        {
            await RunAsOwnerAsync("pg_ctl", ["stop", "-D", _dataDirectory, "-m", "fast", "-w", "-t", "30"], TimeSpan.FromSeconds(40));
        }
    }

    private async Task WaitUntilReadyAsync(ChildProcess server, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"Postgres exited with code {server.ExitCode} during start-up (see its log above).");
            }
            var (code, _) = await ChildProcess.RunAsync(Path.Combine(_bin, "pg_isready"),
                ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", Superuser], TimeSpan.FromSeconds(10));
            if (code == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Postgres did not accept connections on port {Port} within 60 s.");
            }
            await Task.Delay(200, ct);
        }
    }

    public async Task CreateDatabaseAsync(string database)
    {
        var (code, text) = await ChildProcess.RunAsync(Path.Combine(_bin, "createdb"),
            ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", Superuser, database], TimeSpan.FromSeconds(30));
        if (code != 0 && !text.Contains("already exists", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"createdb {database} failed: {text}");
        }
    }

    private ChildProcess StartAsOwner(string program, IEnumerable<string> arguments, Action<string> output)
    {
        var (file, args) = AsOwner(program, arguments);
        return ChildProcess.Start("postgres", file, args, output);
    }

    private Task<(int, string)> RunAsOwnerAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var (file, args) = AsOwner(program, arguments);
        return ChildProcess.RunAsync(file, args, timeout);
    }

    private (string File, IEnumerable<string> Arguments) AsOwner(string program, IEnumerable<string> arguments)
    {
        var path = Path.Combine(_bin, program);
        // setpriv execs the program itself (runuser would stay in between as its parent), so the server
        // is this process's own child: signalled and reaped directly, never left as an orphan or zombie.
        return ChildProcess.IsRoot
            ? ("setpriv", new[] { "--reuid", OsUser, "--regid", OsUser, "--init-groups", "--", path }.Concat(arguments))
            : (path, arguments);
    }

    internal static void EnsurePortFree(int port, string what)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException)
        {
            throw new InvalidOperationException($"Port {port} for {what} is in use by another program; choose another port in the AppHost's settings.");
        }
    }

    /// <summary>A free TCP port on loopback, for throwaway servers.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops the server (<c>pg_ctl stop -m fast</c>, then signals); <see cref="StartServerAsync"/> starts it again.</summary>
    public async Task StopServerAsync()
    {
        if (_server is null)
        {
            return;
        }
        if (!_server.HasExited)
        {
            await RunAsOwnerAsync("pg_ctl", ["stop", "-D", _dataDirectory, "-m", "fast", "-w", "-t", "30"], TimeSpan.FromSeconds(40));
        }
        await _server.DisposeAsync();
        _server = null;
    }

    public async ValueTask DisposeAsync() => await StopServerAsync();
}
