using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>
/// The endpoint's <c>auth</c> on create and update: problem details naming the field for every wrong shape (400), a
/// certificate that cannot be used (422), and the secrets never in an answer.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class EndpointAuthValidationTests(StackFixture fixture)
{
    private const string Url = "https://receiver.example/webhooks";

    private static async Task<(HttpStatusCode Status, List<string> Fields)> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<ApiException>(call);
        Assert.Equal("application/problem+json", error.ContentHeaders?.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(error.Content!);
        return (error.StatusCode, problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToList());
    }

    private static string Pem(X509Certificate2 certificate) =>
        certificate.ExportCertificatePem() + "\n" + certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    private static X509Certificate2 Certificate(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var made = new CertificateRequest("CN=client", key, HashAlgorithmName.SHA256).CreateSelfSigned(notBefore, notAfter);
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    [Fact]
    public async Task The_openapi_document_describes_auth_in_and_out_without_secrets_in_the_answer()
    {
        using var http = (await fixture.Stack.ApiAsync()).Http();
        var schemas = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json")).RootElement.GetProperty("components").GetProperty("schemas");
        var input = schemas.GetProperty("EndpointAuthIn").GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "type", "username", "password", "name", "value", "tokenUrl", "clientId", "clientSecret", "scope", "audience", "clientCertificate" }, input);
        var output = schemas.GetProperty("EndpointAuthOut").GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("type", output);
        Assert.DoesNotContain("password", output);
        Assert.DoesNotContain("clientSecret", output);
        Assert.DoesNotContain("value", output);
        Assert.True(schemas.GetProperty("EndpointOut").GetProperty("properties").TryGetProperty("auth", out _));
    }

    public static TheoryData<string, string> WrongShapes => new()
    {
        { """{"type":"kerberos"}""", "auth.type" },
        { """{"type":"basic","password":"p"}""", "auth.username" },
        { """{"type":"basic","username":"a:b","password":"p"}""", "auth.username" },
        { """{"type":"basic","username":"u"}""", "auth.password" },
        { """{"type":"header","name":"webhook-signature","value":"v"}""", "auth.name" },
        { """{"type":"header","name":"Host","value":"v"}""", "auth.name" },
        { """{"type":"header","name":"Content-Length","value":"v"}""", "auth.name" },
        { """{"type":"header","name":"X Bad","value":"v"}""", "auth.name" },
        { """{"type":"header","name":"X-Key","value":"a\r\nX-Injected: 1"}""", "auth.value" },
        { """{"type":"header","name":"X-Key"}""", "auth.value" },
        { """{"type":"header","value":"v"}""", "auth.name" },
        { """{"type":null}""", "auth.type" },
        { """{}""", "auth.type" },
        { """{"type":"oauth2-client-credentials","clientId":"c","clientSecret":"s"}""", "auth.tokenUrl" },
        { """{"type":"oauth2-client-credentials","tokenUrl":"file:///etc/passwd","clientId":"c","clientSecret":"s"}""", "auth.tokenUrl" },
        { """{"type":"oauth2-client-credentials","tokenUrl":"https://u:p@idp.example/token","clientId":"c","clientSecret":"s"}""", "auth.tokenUrl" },
        { """{"type":"oauth2-client-credentials","tokenUrl":"https://idp.example/token","clientSecret":"s"}""", "auth.clientId" },
        { """{"type":"oauth2-client-credentials","tokenUrl":"https://idp.example/token","clientId":"c"}""", "auth.clientSecret" },
        { """{"type":"basic","username":"u","password":"p","tokenUrl":"https://idp.example/token"}""", "auth.tokenUrl" },
        { """{"type":"mtls"}""", "auth.clientCertificate" },
        { """{"type":"mtls","clientCertificate":{"certificate":""}}""", "auth.clientCertificate.certificate" },
    };

    [Theory]
    [MemberData(nameof(WrongShapes))]
    public async Task A_wrong_auth_is_refused_naming_the_field(string auth, string field)
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("auth validation"));
        using var http = (await fixture.Stack.ApiAsync()).Http();
        var body = JsonContent.Create(JsonDocument.Parse($$"""{"url":"{{Url}}","auth":{{auth}}}""").RootElement);
        using var response = await http.PostAsync($"api/v1/apps/{app.Id}/endpoints", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(field, problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);
    }

    [Fact]
    public async Task A_client_certificate_that_cannot_be_used_is_unprocessable()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("auth certificates"));
        var now = DateTimeOffset.UtcNow;
        using var expired = Certificate(now.AddDays(-10), now.AddDays(-1));
        using var valid = Certificate(now.AddMinutes(-5), now.AddDays(1));
        var cases = new[]
        {
            new ClientCertificateIn(Pem(expired)),
            new ClientCertificateIn(valid.ExportCertificatePem()),                  // no private key
            new ClientCertificateIn("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"),
            new ClientCertificateIn(valid.ExportCertificatePem(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        };
        foreach (var certificate in cases)
        {
            var (status, fields) = await RefusedAsync(() => api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Auth: new EndpointAuthIn("mtls", ClientCertificate: certificate))));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
            Assert.Equal(["auth.clientCertificate"], fields);
        }
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);

        var created = await api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Auth: new EndpointAuthIn("basic", "u", "p", ClientCertificate: new ClientCertificateIn(Pem(valid)))));
        Assert.Equal(valid.GetCertHashString(HashAlgorithmName.SHA256), created.Endpoint.Auth!.ClientCertificate!.Thumbprint);
        Assert.Equal("u", created.Endpoint.Auth.Username);
    }

    [Fact]
    public async Task Secrets_are_write_only_and_an_update_without_them_keeps_them_only_where_they_were_sent()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("auth write-only"));
        var secret = "cs-" + Guid.NewGuid().ToString("N");
        var auth = new EndpointAuthIn("oauth2-client-credentials", TokenUrl: "https://idp.example/token", ClientId: "c1", ClientSecret: secret, Scope: "s");
        var created = await api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Auth: auth));
        Assert.Equal(new EndpointAuthOut("oauth2-client-credentials", TokenUrl: "https://idp.example/token", ClientId: "c1", Scope: "s"), created.Endpoint.Auth);

        // Same token URL and client: the stored secret stays.
        var updated = await api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn(Url, Auth: auth with { ClientSecret = null, Scope = "t" }));
        Assert.Equal("t", updated.Auth!.Scope);
        // Another token URL, or another client id: the secret must come again.
        var (_, fields) = await RefusedAsync(() => api.UpdateEndpointAsync(app.Id, created.Id,
            new EndpointUpdateIn(Url, Auth: auth with { ClientSecret = null, TokenUrl = "https://attacker.example/token" })));
        Assert.Equal(["auth.clientSecret"], fields);
        (_, fields) = await RefusedAsync(() => api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn(Url, Auth: auth with { ClientSecret = null, ClientId = "c2" })));
        Assert.Equal(["auth.clientSecret"], fields);
        // Another type: nothing of the old one is kept.
        (_, fields) = await RefusedAsync(() => api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn(Url, Auth: new EndpointAuthIn("basic", "u"))));
        Assert.Equal(["auth.password"], fields);
        Assert.Equal("https://idp.example/token", (await api.GetEndpointAsync(app.Id, created.Id)).Auth!.TokenUrl);

        using var http = (await fixture.Stack.ApiAsync()).Http();
        foreach (var path in new[] { $"api/v1/apps/{app.Id}/endpoints/{created.Id}", $"api/v1/apps/{app.Id}/endpoints" })
        {
            Assert.DoesNotContain(secret, await http.GetStringAsync(path), StringComparison.Ordinal);
        }
        var removed = await api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn(Url));
        Assert.Null(removed.Auth);
    }
}
