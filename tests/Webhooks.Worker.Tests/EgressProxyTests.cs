using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Testing;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Tests;

/// <summary>
/// The egress proxy (<c>Webhooks:Delivery:Proxy</c>): every delivery goes through it, environment proxies never, and the
/// address guard still judges each delivery's target, not the proxy.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class EgressProxyTests(StackFixture fixture)
{
    private static Dictionary<string, string?> EnvironmentProxies(RecordingProxy decoy)
    {
        var url = $"http://127.0.0.1:{decoy.Port}";
        return new Dictionary<string, string?>
        {
            ["HTTP_PROXY"] = url, ["http_proxy"] = url, ["HTTPS_PROXY"] = url, ["https_proxy"] = url, ["ALL_PROXY"] = url, ["all_proxy"] = url,
        };
    }

    [Fact]
    public async Task Every_delivery_goes_through_the_configured_proxy_with_its_credentials_and_environment_proxies_are_ignored()
    {
        await using var proxy = new RecordingProxy("egress", "s3cret:1");
        await using var decoy = new RecordingProxy();
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>(EnvironmentProxies(decoy))
        {
            ["Webhooks__Delivery__Proxy"] = $"http://127.0.0.1:{proxy.Port}",
            ["Webhooks__Delivery__ProxyUsername"] = "egress",
            ["Webhooks__Delivery__ProxyPassword"] = "s3cret:1",
        });
        await using var s = await Scenario.CreateAsync(isolated.Client());
        var messages = await s.PublishManyAsync(3);
        await s.WaitForHandledAsync(3, TimeSpan.FromSeconds(30));
        Assert.Equal(messages.Select(m => $"POST {s.Receiver.WebhookUrl}").ToList(), proxy.Passed.Where(p => p.StartsWith("POST ", StringComparison.Ordinal)).ToList());
        Assert.True(proxy.Challenged >= 1, "the proxy asked for credentials, and got them");

        // An https endpoint: tunnelled with CONNECT (the receiver behind it speaks plain HTTP, so the handshake then fails).
        var tls = await s.Api.CreateEndpointAsync(s.App.Id, new EndpointIn($"https://127.0.0.1:{s.Receiver.Url.Port}/webhooks", EventTypes: ["tls.checked"], RetrySchedule: [0]));
        var message = await s.PublishAsync(1, "tls.checked");
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(30), tls.Id);
        Assert.Contains($"CONNECT 127.0.0.1:{s.Receiver.Url.Port}", proxy.Passed);
        Assert.Equal(0, decoy.Connections);
    }

    [Fact]
    public async Task Through_the_proxy_the_guard_refuses_private_targets_before_the_proxy_hears_of_them()
    {
        await using var proxy = new RecordingProxy("egress", "s3cret");
        await using var decoy = new RecordingProxy();
        // The proxy itself is on loopback: allowed, the operator chose it. Its credentials in its URL this time.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>(EnvironmentProxies(decoy))
        {
            ["Webhooks__Delivery__Proxy"] = $"http://egress:s3cret@127.0.0.1:{proxy.Port}",
            ["Webhooks__Delivery__AllowPrivateNetworks"] = "false",
        });
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RetrySchedule = [0] });
        var port = s.Receiver.Url.Port;
        foreach (var url in new[] { $"http://localhost:{port}/webhooks", $"https://127.0.0.1:{port}/webhooks", "http://10.1.2.3/webhooks", "http://169.254.169.254/latest/" })
        {
            await s.Api.CreateEndpointAsync(s.App.Id, new EndpointIn(url, EventTypes: ["order.created"], RetrySchedule: [0]));
        }
        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(async () =>
                (await s.Api.ListDeliveriesAsync(s.App.Id, message.Id)).Data is { Count: 5 } all && all.All(d => d.Status == "exhausted"),
            TimeSpan.FromSeconds(30), "every delivery is refused");
        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal(5, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.Equal("blocked", a.ErrorKind);
            Assert.Null(a.ResponseStatus);
        });
        // Refused in the worker: the proxy never saw a connection, let alone a request, nor did the receiver.
        Assert.Equal(0, proxy.Connections);
        Assert.Empty(proxy.Passed);
        Assert.Equal(0, decoy.Connections);
        Assert.Empty(s.Receiver.Requests);
    }

    [Fact]
    public async Task A_worker_without_a_proxy_setting_ignores_environment_proxies()
    {
        await using var decoy = new RecordingProxy();
        await using var isolated = await fixture.Stack.IsolatedAsync(EnvironmentProxies(decoy));
        await using var s = await Scenario.CreateAsync(isolated.Client());
        await s.PublishAsync(1);
        await s.WaitForHandledAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal(0, decoy.Connections);
    }

    [Fact]
    public async Task Credentials_the_proxy_refuses_fail_the_attempt_as_a_connection_failure_to_retry_not_as_the_receivers_answer()
    {
        await using var proxy = new RecordingProxy("egress", "s3cret");
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync());
        var sender = new WebhookSender(
            DeliveryHttp.Create(Options.Create(new DeliveryOptions
            {
                AllowPrivateNetworks = true, Proxy = $"http://127.0.0.1:{proxy.Port}", ProxyUsername = "egress", ProxyPassword = "wrong",
            })),
            TimeProvider.System, new SecretProtector(new EphemeralDataProtectionProvider()));
        foreach (var url in new[] { s.Receiver.WebhookUrl.ToString(), $"https://127.0.0.1:{s.Receiver.Url.Port}/webhooks" })
        {
            var delivery = new ClaimedDelivery(1, 0, "msg_proxy", "order.created", "{\"n\":1}", DateTimeOffset.UtcNow, null, "ep_x", "app_x",
                url, s.Secret, null, null, [], 5, null, null);
            var result = await sender.SendAsync(delivery, CancellationToken.None);
            Assert.Equal((AttemptOutcome.Retryable, "connection", (int?)null), (result.Outcome, result.Attempt.ErrorKind, result.Attempt.ResponseStatus));
        }
        Assert.True(proxy.Challenged >= 2, $"{proxy.Challenged} challenges");
        Assert.Empty(proxy.Passed);
        Assert.Empty(s.Receiver.Requests);
    }

    [Theory]
    [InlineData("http://proxy.internal:3128", null, null, "http://proxy.internal:3128/", null, null)]
    [InlineData("http://egress:p%40ss%3Aword@10.0.0.5:3128", null, null, "http://10.0.0.5:3128/", "egress", "p@ss:word")]
    [InlineData("http://url-user:url-pass@10.0.0.5:3128", "setting-user", "setting-pass", "http://10.0.0.5:3128/", "setting-user", "setting-pass")]
    [InlineData("http://10.0.0.5:3128", "user", "pass", "http://10.0.0.5:3128/", "user", "pass")]
    public void The_proxy_url_and_its_credentials_come_from_the_settings_or_the_urls_user_info(
        string proxy, string? user, string? password, string address, string? expectedUser, string? expectedPassword)
    {
        var settings = new DeliveryOptions { Proxy = proxy, ProxyUsername = user, ProxyPassword = password }.ProxySettings!.Value;
        Assert.Equal(address, settings.Address.ToString());
        Assert.Equal(expectedUser, settings.Credentials?.UserName);
        Assert.Equal(expectedPassword, settings.Credentials?.Password);
    }

    [Theory]
    [InlineData("https://proxy.internal:3128")]
    [InlineData("socks5://proxy.internal:1080")]
    [InlineData("proxy.internal:3128")]
    [InlineData("http://proxy.internal:3128/path")]
    public void A_proxy_setting_that_is_not_an_http_proxy_url_fails_at_start_naming_the_key(string proxy)
    {
        var options = new DeliveryOptions { Proxy = proxy };
        var results = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true));
        Assert.Contains(results, r => r.ErrorMessage!.StartsWith("Webhooks:Delivery:Proxy", StringComparison.Ordinal));
    }
}
