using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Webhooks.Worker.Tests;

/// <summary>
/// A small HTTP proxy on loopback, as an egress proxy would be: <c>CONNECT host:port</c> tunnels and absolute-form
/// requests (<c>POST http://host:port/path</c>) forwarded, optionally behind Basic authentication (407 until the right
/// <c>Proxy-Authorization</c> comes). It records every request that passed, and connects to loopback targets only: it can
/// never carry a test's traffic off this machine.
/// </summary>
public sealed class RecordingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly string? _authorization;
    private readonly Task _accepting;
    private int _connections;
    private int _challenged;

    public RecordingProxy(string? user = null, string? password = null)
    {
        _authorization = user is null ? null : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The request lines that passed (authenticated): <c>CONNECT 127.0.0.1:5000</c>, <c>POST http://127.0.0.1:5000/webhooks</c>.</summary>
    public ConcurrentQueue<string> Passed { get; } = new();

    /// <summary>Connections accepted, whatever came on them.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Requests answered 407 for want of the right credentials.</summary>
    public int Challenged => Volatile.Read(ref _challenged);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var owned = client;
        var stream = client.GetStream();
        try
        {
            // Keep-alive until a request passes: a 407 is answered on the same connection, as a client retries there.
            while (await ReadHeadAsync(stream) is { } head)
            {
                var lines = head.Split("\r\n");
                var request = lines[0].Split(' ');
                var headers = lines.Skip(1).Where(l => l.Contains(':', StringComparison.Ordinal))
                    .Select(l => (Name: l[..l.IndexOf(':', StringComparison.Ordinal)].Trim(), Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
                    .ToList();
                string? Header(string name) => headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
                var body = new byte[int.Parse(Header("content-length") ?? "0", System.Globalization.CultureInfo.InvariantCulture)];
                await stream.ReadExactlyAsync(body);
                if (_authorization is not null && Header("proxy-authorization") != _authorization)
                {
                    Interlocked.Increment(ref _challenged);
                    await WriteAsync(stream, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"egress\"\r\nContent-Length: 0\r\n\r\n");
                    continue;
                }
                if (request[0] == "CONNECT")
                {
                    using var tunnel = await ConnectLoopbackAsync(request[1]);
                    if (tunnel is null)
                    {
                        await WriteAsync(stream, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                        return;
                    }
                    Passed.Enqueue($"CONNECT {request[1]}");
                    await WriteAsync(stream, "HTTP/1.1 200 Connection established\r\n\r\n");
                    await PumpAsync(stream, tunnel.GetStream());
                    return;
                }
                var target = new Uri(request[1]);
                using var origin = await ConnectLoopbackAsync(target.Authority);
                if (origin is null)
                {
                    await WriteAsync(stream, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                Passed.Enqueue($"{request[0]} {target}");
                var forwarded = new StringBuilder($"{request[0]} {target.PathAndQuery} HTTP/1.1\r\n");
                foreach (var (name, value) in headers.Where(h => !h.Name.StartsWith("proxy-", StringComparison.OrdinalIgnoreCase) &&
                                                                  !h.Name.Equals("connection", StringComparison.OrdinalIgnoreCase)))
                {
                    forwarded.Append(name).Append(": ").Append(value).Append("\r\n");
                }
                // One request per connection: the origin closes after answering, and so does this connection.
                forwarded.Append("Connection: close\r\n\r\n");
                var upstream = origin.GetStream();
                await WriteAsync(upstream, forwarded.ToString());
                await upstream.WriteAsync(body);
                await upstream.CopyToAsync(stream);
                return;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
        }
    }

    /// <summary>A connection to <paramref name="authority"/> (<c>host:port</c>) if it is on loopback; null otherwise.</summary>
    private static async Task<TcpClient?> ConnectLoopbackAsync(string authority)
    {
        if (!Uri.TryCreate("tcp://" + authority, UriKind.Absolute, out var uri) ||
            !(uri.IsLoopback && (IPAddress.TryParse(uri.DnsSafeHost, out var address) ? IPAddress.IsLoopback(address) : uri.Host == "localhost")))
        {
            return null;
        }
        var client = new TcpClient();
        await client.ConnectAsync(uri.DnsSafeHost == "localhost" ? IPAddress.Loopback : IPAddress.Parse(uri.DnsSafeHost), uri.Port);
        return client;
    }

    private static async Task PumpAsync(Stream a, Stream b)
    {
        try
        {
            await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private static async Task<string?> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>(512);
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }
            head.Add(one[0]);
            if (head.Count > 64 * 1024)
            {
                return null;
            }
        }
        return Encoding.ASCII.GetString(head.ToArray(), 0, head.Count - 4);
    }

    private static Task WriteAsync(Stream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
