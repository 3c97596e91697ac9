using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Webhooks.Testing;

/// <summary>How a <see cref="HostileReceiver"/> misbehaves once it has read a request.</summary>
public enum HostileMode
{
    /// <summary><c>200</c> with <c>Content-Length: 100</c>, then 3 bytes and a close.</summary>
    TruncatedBody,
    /// <summary><c>200</c>, chunked, then a chunk size that is not hexadecimal.</summary>
    InvalidChunking,
    /// <summary><c>200</c> headers, then a TCP reset instead of the body.</summary>
    ResetAfterHeaders,
    /// <summary>Bytes that are not HTTP at all.</summary>
    Garbage,
    /// <summary>Reads the request and closes without a word.</summary>
    CloseWithoutAnswer,
}

/// <summary>
/// A raw TCP receiver on loopback that answers every request the wrong way (<see cref="HostileMode"/>), as broken
/// proxies, crashing apps and middleboxes do. It records the <c>webhook-id</c> of each request it read in full.
/// </summary>
public sealed class HostileReceiver : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private HostileReceiver(HostileMode mode)
    {
        Mode = mode;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public HostileMode Mode { get; }
    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/webhooks");
    public ConcurrentQueue<string> Requests { get; } = new();

    public static HostileReceiver Start(HostileMode mode) => new(mode);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            while (await ReadRequestAsync(stream) is { } id)
            {
                Requests.Enqueue(id);
                var answer = Mode switch
                {
                    HostileMode.TruncatedBody => "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nabc",
                    HostileMode.InvalidChunking => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ-not-hex\r\nhello\r\n",
                    HostileMode.ResetAfterHeaders => "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
                    HostileMode.Garbage => "\u0016\u0003\u0001 this is not HTTP at all\r\n\r\n",
                    _ => "",
                };
                await stream.WriteAsync(Encoding.Latin1.GetBytes(answer));
                await stream.FlushAsync();
                if (Mode == HostileMode.ResetAfterHeaders)
                {
                    socket.LingerState = new LingerOption(true, 0); // close with RST
                }
                break;
            }
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
        finally
        {
            socket.Close();
        }
    }

    /// <summary>Reads one request (headers, then Content-Length bytes); null at end of stream.</summary>
    private static async Task<string?> ReadRequestAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(buffer))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }
            buffer.Add(one[0]);
        }
        var head = Encoding.Latin1.GetString(buffer.ToArray());
        var length = 0;
        string id = "";
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (name.Equals("webhook-id", StringComparison.OrdinalIgnoreCase))
            {
                id = value;
            }
        }
        var body = new byte[length];
        await stream.ReadExactlyAsync(body);
        return id;
    }

    private static bool EndsWithBlankLine(List<byte> b) =>
        b.Count >= 4 && b[^4] == '\r' && b[^3] == '\n' && b[^2] == '\r' && b[^1] == '\n';

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
