namespace Webhooks.AppHost.Local;

/// <summary>A Redis server from the machine's <c>redis-server</c>, on 127.0.0.1, without persistence.</summary>
public sealed class LocalRedis : IAsyncDisposable
{
    private ChildProcess? _server;

    private LocalRedis(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public const string InstallHint =
        "redis-server was not found. Install it — Debian/Ubuntu: 'apt-get install redis-server', macOS: 'brew install redis' — " +
        "or set REDIS_SERVER to its path.";

    public static string? FindBinary() =>
        Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } configured && File.Exists(configured)
            ? configured
            : ChildProcess.FindOnPath("redis-server") ?? (File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : null);

    public static async Task<LocalRedis> StartAsync(string dataDirectory, int port, Action<string> output, CancellationToken ct = default)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(InstallHint);
        LocalPostgres.EnsurePortFree(port, "Redis");
        Directory.CreateDirectory(dataDirectory);
        var redis = new LocalRedis(port);
        redis._server = ChildProcess.Start("redis", binary,
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", Path.GetFullPath(dataDirectory), "--loglevel", "warning"],
            output);
        await redis.WaitUntilReadyAsync(ct);
        return redis;
    }

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (_server!.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_server.ExitCode} during start-up (see its log above).");
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

    /// <summary>Stops the server (tests of running without Redis); <see cref="StartAsync"/> a new one on the same port to resume.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }
}
