namespace Webhooks.Testing.Processes;

/// <summary>A Redis server from the machine's <c>redis-server</c>, on 127.0.0.1, without persistence.</summary>
public sealed class LocalRedis : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string _dataDirectory;
    private readonly Action<string> _output;
    private ChildProcess? _server;
    private bool _appendOnly;

    private LocalRedis(string binary, string dataDirectory, int port, Action<string> output)
    {
        _binary = binary;
        _dataDirectory = dataDirectory;
        Port = port;
        _output = output;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public const string InstallHint =
        "redis-server was not found. Install it — Debian/Ubuntu: 'apt-get install redis-server', macOS: 'brew install redis' — " +
        "or set REDIS_SERVER to its path.";

    public static string? FindBinary() => Webhooks.AppHost.Data.MachineBinaries.RedisServer();

    public static async Task<LocalRedis> StartAsync(string dataDirectory, int port, Action<string> output, CancellationToken ct = default) =>
        await StartAsync(dataDirectory, port, output, appendOnly: false, ct);

    /// <param name="appendOnly">Writes go to an append-only file fsynced every second (AOF <c>everysec</c>), as a queue on Redis would run.</param>
    public static async Task<LocalRedis> StartAsync(string dataDirectory, int port, Action<string> output, bool appendOnly, CancellationToken ct = default)
    {
        var redis = Prepare(dataDirectory, port, output);
        redis._appendOnly = appendOnly;
        await redis.StartServerAsync(ct);
        return redis;
    }

    /// <summary>
    /// Finds the binary and checks the port is free; <see cref="StartServerAsync"/> then starts the server.
    /// </summary>
    public static LocalRedis Prepare(string dataDirectory, int port, Action<string> output)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(InstallHint);
        LocalPostgres.EnsurePortFree(port, "Redis");
        Directory.CreateDirectory(dataDirectory);
        return new LocalRedis(binary, Path.GetFullPath(dataDirectory), port, output);
    }

    /// <summary>
    /// Starts the server on this port and waits until it answers PING — also after a crash (it starts empty, as it
    /// keeps nothing on disk). A server that does not get ready is stopped before this throws.
    /// </summary>
    public async Task<ChildProcess> StartServerAsync(CancellationToken ct = default)
    {
        if (_server is { HasExited: false })
        {
            throw new InvalidOperationException($"Redis is already running on port {Port}.");
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        var server = ChildProcess.Start("redis", _binary,
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", _appendOnly ? "yes" : "no", "--appendfsync", "everysec", "--dir", _dataDirectory, "--loglevel", "warning"],
            _output);
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

    private async Task WaitUntilReadyAsync(ChildProcess server, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {server.ExitCode} during start-up (see its log above).");
            }
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync("127.0.0.1", Port, ct);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), ct);
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer, ct);
                if (System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Redis did not answer on port {Port} within 30 s.");
            }
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Stops the server (tests of running without Redis); <see cref="StartServerAsync"/> starts it again on the same port.</summary>
    public async Task StopServerAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopServerAsync();
}
