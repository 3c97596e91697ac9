using System.Security.Cryptography;
using Npgsql;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// Mutual TLS against a real HTTPS receiver on loopback that requires a client certificate and accepts only ours. Its
/// server certificate is self-signed: the worker trusts it only because its thumbprint is pinned in the worker's
/// <c>Webhooks:Delivery:TrustedServerCertificates</c> (the shared worker, without the pin, refuses it).
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class MutualTlsTests(StackFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static async Task<(ApplicationOut App, EndpointCreated Endpoint)> EndpointAsync(IWebhooksApi api, Uri url, EndpointAuthIn? auth, ApplicationOut? app = null)
    {
        app ??= await api.CreateApplicationAsync(new ApplicationIn("mtls " + Guid.NewGuid().ToString("N")[..8]));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn(new Uri(url, "webhooks").ToString(), Secret: WebhookSecret.Generate().ToString(),
            EventTypes: ["order.created"], RetrySchedule: [0], Auth: auth));
        return (app, endpoint);
    }

    private static Task<MessageOut> PublishAsync(IWebhooksApi api, string appId) =>
        api.PublishAsync(appId, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 1 })));

    private static async Task<AttemptOut> AttemptAsync(IWebhooksApi api, string appId, string messageId, string endpointId)
    {
        AttemptOut? attempt = null;
        await Eventually.HoldsAsync(async () =>
                (attempt = (await api.ListAttemptsAsync(appId, messageId)).Data.FirstOrDefault(a => a.EndpointId == endpointId)) is not null,
            Wait, $"an attempt of {messageId} to {endpointId} is recorded");
        return attempt!;
    }

    [Fact]
    public async Task The_client_certificate_is_presented_on_the_handshake_and_without_it_the_receiver_refuses()
    {
        using var client = TlsReceiver.SelfSigned("CN=webhooks-worker-test", serverAuth: false);
        using var server = TlsReceiver.SelfSigned("CN=localhost", serverAuth: true);
        await using var receiver = await TlsReceiver.StartAsync(client, server);
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__TrustedServerCertificates__0"] = receiver.ServerThumbprint,
        });
        var api = isolated.Client();
        var (certificate, key) = TlsReceiver.Pem(client);
        var (app, withCertificate) = await EndpointAsync(api, receiver.Url, new EndpointAuthIn("mtls", ClientCertificate: new ClientCertificateIn(certificate, key)));
        var (_, without) = await EndpointAsync(api, receiver.Url, null, app);

        var message = await PublishAsync(api, app.Id);
        var accepted = await AttemptAsync(api, app.Id, message.Id, withCertificate.Id);
        var refused = await AttemptAsync(api, app.Id, message.Id, without.Id);

        Assert.True(accepted.Succeeded, accepted.ErrorMessage);
        Assert.Equal(204, accepted.ResponseStatus);
        Assert.Equal([message.Id], receiver.Accepted);
        Assert.False(refused.Succeeded);
        Assert.Null(refused.ResponseStatus);
        Assert.Contains(refused.ErrorKind, new[] { "tls", "connection" });

        // What the API shows of the certificate: its public facts, never the key.
        var shown = (await api.GetEndpointAsync(app.Id, withCertificate.Id)).Auth!;
        Assert.Equal("mtls", shown.Type);
        Assert.Equal(client.GetCertHashString(HashAlgorithmName.SHA256), shown.ClientCertificate!.Thumbprint);
        Assert.Equal("CN=webhooks-worker-test", shown.ClientCertificate.Subject);
        using var http = isolated.Api.Http();
        var body = await http.GetStringAsync($"api/v1/apps/{app.Id}/endpoints");
        Assert.DoesNotContain("PRIVATE KEY", body, StringComparison.Ordinal);
        Assert.Equal(0, await isolated.QueryAsync<long>("SELECT count(*) FROM endpoints WHERE auth LIKE '%PRIVATE KEY%' OR auth_summary LIKE '%PRIVATE KEY%'"));
    }

    [Fact]
    public async Task Without_the_pin_a_self_signed_receiver_is_refused_even_with_a_client_certificate()
    {
        using var client = TlsReceiver.SelfSigned("CN=webhooks-worker-test", serverAuth: false);
        await using var receiver = await TlsReceiver.StartAsync(client);
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var (certificate, key) = TlsReceiver.Pem(client);
        var (app, endpoint) = await EndpointAsync(api, receiver.Url, new EndpointAuthIn("mtls", ClientCertificate: new ClientCertificateIn(certificate + "\n" + key)));
        var message = await PublishAsync(api, app.Id);
        var attempt = await AttemptAsync(api, app.Id, message.Id, endpoint.Id);
        Assert.False(attempt.Succeeded);
        Assert.Equal("tls", attempt.ErrorKind);
        Assert.Empty(receiver.Accepted);
    }

    [Fact]
    public async Task The_token_url_and_an_mtls_endpoint_pass_the_address_guard()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__AllowPrivateNetworks"] = "false",
        });
        await using var tokens = await TokenServer.StartAsync();
        using var client = TlsReceiver.SelfSigned("CN=webhooks-worker-test", serverAuth: false);
        var (certificate, key) = TlsReceiver.Pem(client);
        var api = isolated.Client();
        // The endpoint itself is public (never reached: the token comes first); the token URL is loopback.
        var (app, oauth) = await EndpointAsync(api, new Uri("http://93.184.216.34:9/"), new EndpointAuthIn("oauth2-client-credentials",
            TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret));
        var (_, mtls) = await EndpointAsync(api, new Uri("https://127.0.0.1:9/"), new EndpointAuthIn("mtls", ClientCertificate: new ClientCertificateIn(certificate, key)), app);

        var message = await PublishAsync(api, app.Id);
        var tokenAttempt = await AttemptAsync(api, app.Id, message.Id, oauth.Id);
        var mtlsAttempt = await AttemptAsync(api, app.Id, message.Id, mtls.Id);
        Assert.Equal("auth", tokenAttempt.ErrorKind);
        Assert.Contains("token URL is blocked", tokenAttempt.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, tokens.Requests);
        Assert.Equal("blocked", mtlsAttempt.ErrorKind);
    }
}
