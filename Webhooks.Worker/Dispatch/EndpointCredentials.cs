using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Webhooks.Core.Data;

namespace Webhooks.Worker.Dispatch;

/// <summary>
/// Authentication to an endpoint failed before the request could go (the token endpoint did not give a token, the
/// client certificate does not load): an attempt with error kind <c>auth</c>, retried like any other.
/// </summary>
public sealed class EndpointAuthException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// What the worker needs to authenticate to endpoints: OAuth 2.0 client-credentials tokens (RFC 6749 §4.4), fetched
/// once per endpoint and credentials by however many deliveries want one at the same moment, and kept until shortly
/// before they expire; and an HTTP client per endpoint and client certificate for mutual TLS. Shared by every delivery
/// of this worker process. Token requests go through the delivery handler, so the token URL (tenant-supplied, like the
/// endpoint URL) passes the same address guard.
/// </summary>
public sealed class EndpointCredentials(HttpClient http, IOptions<DeliveryOptions> options, TimeProvider time)
{
    public const string AuthErrorKind = "auth";
    private const int MaxTokenResponseBytes = 64 * 1024;
    private const int MaxCachedEntries = 10_000;

    private readonly ConcurrentDictionary<string, Lazy<Task<Token>>> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string CertificateHash, HttpClient Client)> _tlsClients = new(StringComparer.Ordinal);

    /// <summary>The shared delivery client (the address guard, no client certificate).</summary>
    public HttpClient Http => http;

    /// <summary>How many token requests this process has sent (a cache that works keeps it low).</summary>
    public long TokenRequests => Interlocked.Read(ref _tokenRequests);

    private long _tokenRequests;

    public sealed record Token(string AccessToken, DateTimeOffset RefreshAt);

    /// <summary>The client to send an endpoint's deliveries with: its own for a client certificate, else the shared one.</summary>
    public HttpClient ClientFor(string endpointId, EndpointAuth? auth)
    {
        if (auth?.CertificateHash() is not { } hash)
        {
            return http;
        }
        if (_tlsClients.TryGetValue(endpointId, out var cached) && cached.CertificateHash == hash)
        {
            return cached.Client;
        }
        X509Certificate2 certificate;
        try
        {
            certificate = LoadCertificate(auth.CertificatePem!, auth.PrivateKeyPem);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new EndpointAuthException($"The client certificate could not be loaded: {ex.Message}", ex);
        }
        if (_tlsClients.Count > MaxCachedEntries)
        {
            _tlsClients.Clear();
        }
        // A replaced client is not disposed: deliveries may still be using it; its idle connections close on their own.
        var client = DeliveryHttp.Create(options, certificate);
        _tlsClients[endpointId] = (hash, client);
        return client;
    }

    private static X509Certificate2 LoadCertificate(string certificatePem, string? privateKeyPem)
    {
        using var pem = X509Certificate2.CreateFromPem(certificatePem, string.IsNullOrWhiteSpace(privateKeyPem) ? certificatePem : privateKeyPem);
        // An ephemeral PEM key cannot be used for TLS on every platform; a PKCS#12 round trip gives it a usable form.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// A token for the endpoint: the cached one unless it is about to expire or is <paramref name="rejected"/> (the
    /// receiver answered 401 to it), else a new one. Concurrent callers share one request to the token endpoint.
    /// </summary>
    /// <exception cref="EndpointAuthException">The token endpoint could not be reached, or did not give a token.</exception>
    public async Task<Token> TokenAsync(string endpointId, EndpointAuth auth, string? rejected, CancellationToken ct)
    {
        var key = endpointId + ":" + auth.Hash();
        var fresh = new Lazy<Task<Token>>(() => FetchAsync(auth));
        if (_tokens.Count > MaxCachedEntries)
        {
            _tokens.Clear();
        }
        var current = _tokens.AddOrUpdate(key, fresh, (_, existing) => Usable(existing, rejected) ? existing : fresh);
        return await current.Value.WaitAsync(ct);
    }

    private bool Usable(Lazy<Task<Token>> entry, string? rejected)
    {
        if (!entry.IsValueCreated || !entry.Value.IsCompleted)
        {
            return true; // being fetched: wait for that one
        }
        return entry.Value.IsCompletedSuccessfully && entry.Value.Result.RefreshAt > time.GetUtcNow() && entry.Value.Result.AccessToken != rejected;
    }

    private async Task<Token> FetchAsync(EndpointAuth auth)
    {
        Interlocked.Increment(ref _tokenRequests);
        var timeout = TimeSpan.FromSeconds(options.Value.TokenTimeoutSeconds);
        // Not the caller's token: the request is shared, and one caller giving up must not fail the others.
        using var cts = new CancellationTokenSource(timeout, time);
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        if (!string.IsNullOrEmpty(auth.Scope))
        {
            form.Add(new("scope", auth.Scope));
        }
        if (!string.IsNullOrEmpty(auth.Audience))
        {
            form.Add(new("audience", auth.Audience));
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, auth.TokenUrl) { Content = new FormUrlEncodedContent(form) };
        // client_secret_basic (RFC 6749 §2.3.1): every authorization server must accept it; id and secret form-encoded first.
        var credentials = Uri.EscapeDataString(auth.ClientId ?? "") + ":" + Uri.EscapeDataString(auth.ClientSecret ?? "");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        request.Headers.Accept.ParseAdd("application/json");
        var host = request.RequestUri!.Authority;
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            var body = await ReadLimitedAsync(response, cts.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new EndpointAuthException($"The token endpoint {host} answered {(int)response.StatusCode}{ErrorOf(body)}.");
            }
            return TokenOf(body, host);
        }
        catch (OperationCanceledException ex) when (cts.IsCancellationRequested)
        {
            throw new EndpointAuthException($"The token endpoint {host} did not answer within {timeout.TotalSeconds:0.#} s.", ex);
        }
        catch (HttpRequestException ex) when (ex.InnerException is DestinationBlockedException blocked)
        {
            throw new EndpointAuthException($"The token URL is blocked: {blocked.Message}", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new EndpointAuthException($"The token endpoint {host} could not be reached: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new EndpointAuthException($"The token endpoint {host} broke off its answer: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is not EndpointAuthException)
        {
            throw new EndpointAuthException($"The token request to {host} failed: {ex.GetType().Name}: {ex.Message}", ex);
        }
    }

    private Token TokenOf(byte[] body, string host)
    {
        string? accessToken = null;
        string? tokenType = null;
        double? expiresIn = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new EndpointAuthException($"The token endpoint {host} did not answer with a JSON object.");
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                switch (property.Name, property.Value.ValueKind)
                {
                    case ("access_token", JsonValueKind.String):
                        accessToken = property.Value.GetString();
                        break;
                    case ("token_type", JsonValueKind.String):
                        tokenType = property.Value.GetString();
                        break;
                    case ("expires_in", JsonValueKind.Number):
                        expiresIn = property.Value.GetDouble();
                        break;
                    case ("expires_in", JsonValueKind.String) when double.TryParse(property.Value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds):
                        expiresIn = seconds;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            throw new EndpointAuthException($"The token endpoint {host} did not answer with JSON.");
        }
        // The token goes into a header: anything but a visible-ASCII token68-like string could split or smuggle headers.
        if (string.IsNullOrEmpty(accessToken) || accessToken.Length > 16 * 1024 || accessToken.Any(c => c is < '!' or > '~'))
        {
            throw new EndpointAuthException($"The token endpoint {host} answered without a usable access_token.");
        }
        if (tokenType is not null && !tokenType.Equals("bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new EndpointAuthException($"The token endpoint {host} answered with token_type '{Printable(tokenType, 40)}', not Bearer.");
        }
        // Without expires_in, a token is kept for five minutes; with it, until a tenth of its life (at most 30 s) is left.
        var lifetime = TimeSpan.FromSeconds(Math.Clamp(expiresIn ?? 300, 0, 24 * 3600));
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(30).Ticks, lifetime.Ticks / 10));
        return new Token(accessToken, time.GetUtcNow() + lifetime - margin);
    }

    /// <summary>The OAuth 2.0 error code and description of a refused request (RFC 6749 §5.2), never the rest of the body.</summary>
    private static string ErrorOf(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                var description = document.RootElement.TryGetProperty("error_description", out var d) && d.ValueKind == JsonValueKind.String
                    ? $" ({Printable(d.GetString()!, 200)})"
                    : "";
                return $": {Printable(error.GetString()!, 64)}{description}";
            }
        }
        catch (JsonException)
        {
        }
        return "";
    }

    private static string Printable(string value, int max)
    {
        var clean = new string(value.Where(c => !char.IsControl(c)).Take(max).ToArray());
        return clean.Length < value.Length ? clean + "…" : clean;
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxTokenResponseBytes)
            {
                throw new EndpointAuthException($"The token endpoint's answer is larger than {MaxTokenResponseBytes / 1024} KB.");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
