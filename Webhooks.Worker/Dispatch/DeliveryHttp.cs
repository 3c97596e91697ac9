using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace Webhooks.Worker.Dispatch;

/// <summary>The SSRF guard refused every address the endpoint's host resolved to.</summary>
public sealed class DestinationBlockedException(string message) : IOException(message);

/// <summary>
/// The one outbound HTTP handler: pooled connections, no redirects, no cookies, and an SSRF guard in
/// <c>ConnectCallback</c> that checks addresses after DNS resolution, so a hostname cannot smuggle in a
/// private address. With an egress proxy (<see cref="DeliveryOptions.Proxy"/>) every connection goes to the proxy, so
/// <c>ConnectCallback</c> sees the proxy's address (allowed, whatever it is: the operator chose it) and
/// <see cref="EgressProxyGuard"/> checks each request's target instead, before it leaves.
/// </summary>
public static class DeliveryHttp
{
    /// <param name="clientCertificate">For an endpoint that requires mutual TLS: presented on every handshake of this client.</param>
    public static HttpClient Create(IOptions<DeliveryOptions> options, X509Certificate2? clientCertificate = null)
    {
        var allowPrivate = options.Value.AllowPrivateNetworks;
        var proxy = options.Value.ProxySettings;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            // HTTP_PROXY and friends would route deliveries through a proxy whose address, not the target's, the guard
            // below would check. Deliveries go direct, or through the proxy configured for them, never an inherited one.
            UseProxy = proxy is not null,
            Proxy = proxy is { } p ? new WebProxy(p.Address) { BypassProxyOnLocal = false, Credentials = p.Credentials } : null,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            MaxConnectionsPerServer = 256,
            ConnectCallback = (context, ct) => ConnectAsync(context, allowPrivate || IsProxy(context.DnsEndPoint, proxy?.Address), ct),
        };
        if (clientCertificate is not null)
        {
            // Presented whatever issuers the server says it accepts (many send none), as the endpoint's owner configured.
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
        if (options.Value.TrustedServerCertificates is { Length: > 0 } pinned)
        {
            var thumbprints = pinned.Select(t => t.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant()).ToHashSet(StringComparer.Ordinal);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None ||
                (errors == SslPolicyErrors.RemoteCertificateChainErrors && certificate is not null &&
                 thumbprints.Contains(certificate.GetCertHashString(HashAlgorithmName.SHA256)));
        }
        HttpMessageHandler pipeline = proxy is null ? handler : new EgressProxyGuard(allowPrivate) { InnerHandler = handler };
        return new HttpClient(pipeline) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private static bool IsProxy(DnsEndPoint endpoint, Uri? proxy) =>
        proxy is not null && endpoint.Port == proxy.Port && string.Equals(HostOf(endpoint.Host), HostOf(proxy.IdnHost), StringComparison.OrdinalIgnoreCase);

    /// <summary>A host name or address as resolved: an IPv6 literal without its brackets.</summary>
    internal static string HostOf(string host) => host.StartsWith('[') ? host.Trim('[', ']') : host;

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var allowed = AddressRules.Allowed(host, await ResolveAsync(host, ct), allowPrivate);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
        IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
}

/// <summary>
/// What deliveries through an egress proxy need besides the proxy. The address guard: the proxy connects to the target
/// itself, so the target's host is resolved here and the request refused, as <see cref="DestinationBlockedException"/>,
/// when any of its addresses is private (the proxy may pick any of them), unless private networks are allowed. The proxy
/// resolves the name again, so a name whose answer changes between the two look-ups (DNS rebinding) can still reach what
/// the proxy can reach: let the proxy refuse private destinations too. And the proxy's own refusal of our credentials
/// (407 to a plain-HTTP request; a tunnel's 407 already fails the request) is a failure to connect, retried, not the
/// receiver's answer.
/// </summary>
public sealed class EgressProxyGuard(bool allowPrivate) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!allowPrivate)
        {
            var host = DeliveryHttp.HostOf(request.RequestUri!.IdnHost);
            IPAddress[] addresses;
            try
            {
                addresses = await DeliveryHttp.ResolveAsync(host, cancellationToken);
            }
            catch (SocketException ex)
            {
                // As the direct path reports it: an HttpRequestException around the resolver's error.
                throw new HttpRequestException($"{ex.Message} ({host})", ex);
            }
            if (addresses.Length == 0 || addresses.Any(AddressRules.IsPrivate))
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"The request to '{host}' was refused before leaving.",
                    new DestinationBlockedException(
                        $"'{host}' resolves to a loopback, private, link-local or reserved address; deliveries there are blocked, through the proxy too."));
            }
        }
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.ProxyAuthenticationRequired)
        {
            response.Dispose();
            throw new HttpRequestException(HttpRequestError.ProxyTunnelError,
                "The egress proxy refused the configured credentials (407 Proxy Authentication Required).");
        }
        return response;
    }
}

public static class AddressRules
{
    /// <summary>The addresses <paramref name="host"/> may be connected to, or <see cref="DestinationBlockedException"/> when there are none.</summary>
    public static IPAddress[] Allowed(string host, IPAddress[] addresses, bool allowPrivate)
    {
        var allowed = allowPrivate ? addresses : addresses.Where(a => !IsPrivate(a)).ToArray();
        return allowed.Length > 0
            ? allowed
            : throw new DestinationBlockedException(
                $"'{host}' resolves only to loopback, private, link-local or reserved addresses; deliveries there are blocked.");
    }

    /// <summary>Loopback, private (RFC 1918, ULA), link-local (incl. cloud metadata), CGNAT, unspecified, multicast and reserved.</summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
        {
            return true;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,
                100 => b[1] is >= 64 and <= 127,      // 100.64/10 carrier-grade NAT
                169 => b[1] == 254,                   // link-local, 169.254.169.254 metadata
                172 => b[1] is >= 16 and <= 31,
                192 => (b[1] == 168) || (b[1] == 0 && b[2] is 0 or 2) || (b[1] == 88 && b[2] == 99),
                198 => b[1] is 18 or 19 || (b[1] == 51 && b[2] == 100),
                203 => b[1] == 0 && b[2] == 113,
                >= 224 => true,                       // multicast and reserved
                _ => false,
            };
        }
        var bytes = address.GetAddressBytes();
        // IPv6 forms that carry an IPv4 address a gateway will reach: judge the IPv4 address inside.
        if (EmbeddedIPv4(bytes) is { } embedded)
        {
            return IsPrivate(embedded);
        }
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast ||
               (bytes[0] & 0xFE) == 0xFC ||           // fc00::/7 unique local
               (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xFF && bytes[3] == 0x9B && bytes[4] == 0x00 && bytes[5] == 0x01) || // 64:ff9b:1::/48 local-use NAT64
               (bytes[0] == 0x01 && bytes.AsSpan(1, 7).IndexOfAnyExcept((byte)0) < 0) || // 100::/64 discard-only
               (bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8); // documentation
    }

    /// <summary>
    /// The IPv4 address inside an IPv6 address that translates to one: NAT64 (<c>64:ff9b::/96</c>), 6to4
    /// (<c>2002::/16</c>), Teredo (<c>2001::/32</c>, the client address, inverted) and IPv4-compatible (<c>::/96</c>).
    /// </summary>
    private static IPAddress? EmbeddedIPv4(byte[] b)
    {
        if (b.Length != 16)
        {
            return null;
        }
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
        {
            return new IPAddress(b.AsSpan(12, 4));
        }
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return new IPAddress(b.AsSpan(2, 4));
        }
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
        {
            return new IPAddress([(byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15]]);
        }
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1))
        {
            return new IPAddress(b.AsSpan(12, 4));
        }
        return null;
    }
}
