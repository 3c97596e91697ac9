using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Webhooks.Testing;

/// <summary>How a <see cref="BrokenTlsReceiver"/> fails the TLS handshake.</summary>
public enum BrokenTlsMode
{
    /// <summary>A proper handshake with a self-signed certificate made for the test, which nobody trusts.</summary>
    UntrustedCertificate,
    /// <summary>Accepts the connection, reads the client hello and answers plain bytes instead of a server hello.</summary>
    GarbageHandshake,
}

/// <summary>
/// A raw TCP listener on loopback for <c>https://127.0.0.1:port/</c> endpoints whose TLS handshake fails
/// (<see cref="BrokenTlsMode"/>). No request ever gets through, so it counts connections instead of requests.
/// </summary>
public sealed class BrokenTlsReceiver : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2 _certificate;
    private readonly Task _accepting;
    private int _connections;

    private BrokenTlsReceiver(BrokenTlsMode mode)
    {
        Mode = mode;
        _certificate = SelfSigned();
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public BrokenTlsMode Mode { get; }
    public Uri Url => new($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/webhooks");

    /// <summary>Connections accepted: one per attempt, since a failed handshake leaves no connection to reuse.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static BrokenTlsReceiver Start(BrokenTlsMode mode) => new(mode);

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

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
            Interlocked.Increment(ref _connections);
            using var stream = new NetworkStream(socket, ownsSocket: false);
            if (Mode == BrokenTlsMode.GarbageHandshake)
            {
                // The client hello's record header, then plain text where a server hello belongs.
                await stream.ReadExactlyAsync(new byte[5]);
                // What an http:// server behind an https:// URL answers.
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
                await stream.FlushAsync();
                return;
            }
            using var tls = new SslStream(stream, leaveInnerStreamOpen: true);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate });
            // A client that trusted this certificate would get here; the worker must not.
            await tls.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        }
        catch (IOException)
        {
        }
        catch (System.Security.Authentication.AuthenticationException)
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

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
        _certificate.Dispose();
    }
}
