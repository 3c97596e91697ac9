using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Webhooks.Worker.Tests;

/// <summary>
/// A real OAuth 2.0 token endpoint on loopback (client credentials, client_secret_basic): counts its requests, issues
/// <c>tok-1</c>, <c>tok-2</c>… with the expiry a test sets, or answers what <see cref="Answer"/> says.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _issued;

    private TokenServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }
    public Uri TokenUrl => new(Url, "oauth/token");
    public string ClientId { get; init; } = "client-1";
    public string ClientSecret { get; init; } = "s3cret-" + Guid.NewGuid().ToString("N");
    public int ExpiresIn { get; set; } = 3600;
    public int Requests => Volatile.Read(ref _requests);
    private int _requests;

    /// <summary>The tokens issued so far, newest last.</summary>
    public ConcurrentQueue<string> Issued { get; } = new();

    /// <summary>The form fields of the last token request.</summary>
    public IReadOnlyDictionary<string, string>? LastForm { get; private set; }

    /// <summary>When set: waited for before answering (a stalling token endpoint).</summary>
    public TimeSpan? Stall { get; set; }

    /// <summary>When set and returning something: the status and body to answer instead of a token.</summary>
    public Func<(int Status, string Body)?>? Answer { get; set; }

    public static async Task<TokenServer> StartAsync(int port = 0, string? clientSecret = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        TokenServer? self = null;
        app.MapPost("/oauth/token", async context =>
        {
            Interlocked.Increment(ref self!._requests);
            var form = await context.Request.ReadFormAsync();
            self.LastForm = form.ToDictionary(f => f.Key, f => f.Value.ToString());
            if (self.Stall is { } stall)
            {
                await Task.Delay(stall, context.RequestAborted);
            }
            if (self.Answer?.Invoke() is { } answer)
            {
                context.Response.StatusCode = answer.Status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(answer.Body);
                return;
            }
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{self.ClientId}:{self.ClientSecret}"));
            if (context.Request.Headers.Authorization.ToString() != expected || form["grant_type"] != "client_credentials")
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsJsonAsync(new { error = "invalid_client" });
                return;
            }
            var token = $"tok-{Interlocked.Increment(ref self._issued)}-{Guid.NewGuid():N}";
            self.Issued.Enqueue(token);
            await context.Response.WriteAsJsonAsync(new Dictionary<string, object>
            {
                ["access_token"] = token,
                ["token_type"] = "Bearer",
                ["expires_in"] = self.ExpiresIn,
            });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new TokenServer(app, new Uri(address.TrimEnd('/') + "/")) { ClientSecret = clientSecret ?? "s3cret-" + Guid.NewGuid().ToString("N") };
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A real HTTPS receiver on loopback with a self-signed server certificate made for the test, that requires a client
/// certificate and accepts only the one it was given (204); every request that got through is counted.
/// </summary>
public sealed class TlsReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TlsReceiver(WebApplication app, Uri url, X509Certificate2 serverCertificate)
    {
        _app = app;
        Url = url;
        ServerCertificate = serverCertificate;
    }

    public Uri Url { get; }
    public X509Certificate2 ServerCertificate { get; }
    public string ServerThumbprint => ServerCertificate.GetCertHashString(HashAlgorithmName.SHA256);
    public ConcurrentQueue<string> Accepted { get; } = new();

    public static async Task<TlsReceiver> StartAsync(X509Certificate2 acceptedClient, X509Certificate2? serverCertificate = null)
    {
        var server = serverCertificate ?? SelfSigned("CN=localhost", serverAuth: true);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https =>
        {
            https.ServerCertificate = server;
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = (certificate, _, _) => certificate.Thumbprint == acceptedClient.Thumbprint;
        })));
        var app = builder.Build();
        TlsReceiver? self = null;
        app.MapPost("/webhooks", (HttpContext context) =>
        {
            self!.Accepted.Enqueue(context.Request.Headers["webhook-id"].ToString());
            return Results.NoContent();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new TlsReceiver(app, new Uri(address.Replace("127.0.0.1", "localhost", StringComparison.Ordinal).TrimEnd('/') + "/"), server);
        return self;
    }

    /// <summary>A certificate with its key, made now and valid for a day (or the validity given), for localhost and 127.0.0.1.</summary>
    public static X509Certificate2 SelfSigned(string subject, bool serverAuth, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        using var made = request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    public static (string Certificate, string PrivateKey) Pem(X509Certificate2 certificate) =>
        (certificate.ExportCertificatePem(), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
