using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>Requests written by hand on a socket, so a body can be declared and then not sent.</summary>
internal static class RawRequest
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Sends the request line, the headers and <paramref name="bodyStart"/>, then nothing more.</summary>
    public static async Task<TcpClient> SendHeadAsync(HttpClient http, long contentLength, IEnumerable<(string Name, string Value)> headers, byte[]? bodyStart = null)
    {
        var head = new StringBuilder()
            .Append("POST /webhooks HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {http.BaseAddress!.Authority}\r\n")
            .Append("Content-Type: application/json\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {contentLength}\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }
        head.Append("\r\n");
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, http.BaseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (bodyStart is not null)
        {
            await stream.WriteAsync(bodyStart);
        }
        await stream.FlushAsync();
        return client;
    }

    /// <summary>Headers that pass every check that needs no body; the signature can only be checked with one.</summary>
    public static (string, string)[] PlausibleHeaders() =>
    [
        ("webhook-id", "msg_" + Guid.NewGuid().ToString("N")),
        ("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        ("webhook-signature", "v1," + Convert.ToBase64String(new byte[32])),
    ];

    /// <summary>The status of the response, read from the status line.</summary>
    public static async Task<int> ReadStatusAsync(TcpClient client)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var buffer = new byte[256];
        var read = 0;
        while (read < 12)
        {
            var n = await client.GetStream().ReadAsync(buffer.AsMemory(read), timeout.Token);
            Assert.True(n > 0, "The connection closed without a response.");
            read += n;
        }
        // "HTTP/1.1 401 Unauthorized"
        return int.Parse(Encoding.ASCII.GetString(buffer, 9, 3), CultureInfo.InvariantCulture);
    }
}

/// <summary>The checks that need no body are made before it is read, and bodies are bounded as they arrive.</summary>
public sealed class RequestBodyTests : IAsyncLifetime
{
    private const int MaxBodyBytes = 1024;
    private readonly WebhookSecret _secret = WebhookSecret.Generate();
    private readonly FlakyHandler.State _state = new();
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync() =>
        (_app, _http) = await ReceiverHost.StartAsync(_secret, _state, options: o => o.MaxBodyBytes = MaxBodyBytes);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task An_unsigned_request_is_answered_401_without_waiting_for_its_body()
    {
        using var client = await RawRequest.SendHeadAsync(_http, MaxBodyBytes, []);
        Assert.Equal(401, await RawRequest.ReadStatusAsync(client));
    }

    [Fact]
    public async Task A_stale_request_is_answered_400_without_waiting_for_its_body()
    {
        var headers = RawRequest.PlausibleHeaders();
        headers[1].Item2 = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var client = await RawRequest.SendHeadAsync(_http, MaxBodyBytes, headers);
        Assert.Equal(400, await RawRequest.ReadStatusAsync(client));
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_answered_413_without_waiting_for_the_body()
    {
        using var client = await RawRequest.SendHeadAsync(_http, MaxBodyBytes + 1, RawRequest.PlausibleHeaders());
        Assert.Equal(413, await RawRequest.ReadStatusAsync(client));
    }

    [Fact]
    public async Task A_chunked_body_over_the_limit_is_answered_413()
    {
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = ReceiverHost.OrderBody(1).Concat(Encoding.UTF8.GetBytes(new string(' ', 2 * MaxBodyBytes))).ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new ByteArrayContent(body) };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", SignatureScheme.Sign(_secret, id, timestamp, body));
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, _state.Calls);
    }

    [Fact]
    public async Task A_chunked_body_within_the_limit_is_handled()
    {
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = ReceiverHost.OrderBody(2);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new ByteArrayContent(body) };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", SignatureScheme.Sign(_secret, id, timestamp, body));
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(2, Assert.Single(_state.Handled).Data.N);
    }
}

/// <summary>Runs alone: it measures the process's allocations, which other tests running at once would add to.</summary>
[CollectionDefinition(nameof(AllocationMeasurement), DisableParallelization = true)]
public sealed class AllocationMeasurement;

[Collection(nameof(AllocationMeasurement))]
public sealed class StalledBodyTests
{
    [Fact]
    public async Task Stalled_requests_declaring_a_large_body_do_not_each_allocate_it()
    {
        const int Requests = 32;
        const long Declared = 1024 * 1024;
        var parked = new SemaphoreSlim(0);
        var (app, http) = await ReceiverHost.StartAsync(WebhookSecret.Generate(), new FlakyHandler.State(), options: o => o.MaxBodyBytes = Declared,
            beforeReceiver: web => web.Use((HttpContext context, RequestDelegate next) =>
            {
                // next() returns as soon as the receiver awaits, which for these requests is the body read: by then
                // whatever buffer it reads into has been taken.
                var handling = next(context);
                if (!handling.IsCompleted)
                {
                    parked.Release();
                }
                return handling;
            }));
        await using (app)
        using (http)
        {
            var bodyStart = "{\"type\":"u8.ToArray();
            // Once first, so what is allocated only once (code, pools) is not counted.
            using (var warmUp = await RawRequest.SendHeadAsync(http, Declared, RawRequest.PlausibleHeaders(), bodyStart))
            {
                Assert.True(await parked.WaitAsync(RawRequest.Patience));
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            var clients = new List<TcpClient>();
            try
            {
                for (var i = 0; i < Requests; i++)
                {
                    clients.Add(await RawRequest.SendHeadAsync(http, Declared, RawRequest.PlausibleHeaders(), bodyStart));
                }
                for (var i = 0; i < Requests; i++)
                {
                    Assert.True(await parked.WaitAsync(RawRequest.Patience), $"Only {i} of {Requests} requests reached the body read.");
                }
                var perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / Requests;
                // Kestrel's own per-connection cost is a few tens of KB; a buffer sized from Content-Length is 1 MiB.
                Assert.True(perRequest < 128 * 1024, $"{perRequest} bytes allocated per stalled request.");
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
    }
}
