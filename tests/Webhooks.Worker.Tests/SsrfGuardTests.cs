using System.Net;
using Webhooks.Testing;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Tests;

public class AddressRulesTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.10.0.1")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("172.16.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("64:ff9b::7f00:1")]          // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe")]       // NAT64 of 169.254.169.254
    [InlineData("64:ff9b::10.1.2.3")]
    [InlineData("64:ff9b:1::1")]             // local-use NAT64
    [InlineData("2002:7f00:1::1")]           // 6to4 of 127.0.0.1
    [InlineData("2002:c0a8:101::1")]         // 6to4 of 192.168.1.1
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe")] // Teredo, client 127.0.0.1
    [InlineData("::127.0.0.1")]              // IPv4-compatible
    public void Private_loopback_link_local_and_metadata_addresses_are_refused(string address) =>
        Assert.True(AddressRules.IsPrivate(IPAddress.Parse(address)), address);

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("64:ff9b::808:808")]         // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1")]          // 6to4 of 8.8.8.8
    public void Public_addresses_are_allowed(string address) =>
        Assert.False(AddressRules.IsPrivate(IPAddress.Parse(address)), address);
}

/// <summary>The guard checks addresses after DNS resolution and refuses before any connection is made.</summary>
[Collection(StackFixture.Collection)]
public sealed class SsrfGuardTests(StackFixture fixture)
{
    [Fact]
    public async Task With_the_guard_on_private_destinations_are_blocked_before_connecting()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__AllowPrivateNetworks"] = "false",
        });
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RetrySchedule = [0] });
        var port = s.Receiver.Url.Port;
        var api = isolated.Client();
        var targets = new[]
        {
            s.Receiver.WebhookUrl.ToString(),                 // 127.0.0.1
            $"http://localhost:{port}/webhooks",              // a hostname resolving to loopback
            $"http://[::1]:{port}/webhooks",
            "http://10.1.2.3/webhooks",
            "http://169.254.169.254/latest/meta-data/",
        };
        var endpoints = new List<string>();
        foreach (var url in targets.Skip(1))
        {
            endpoints.Add((await api.CreateEndpointAsync(s.App.Id, new Client.EndpointIn(url, RetrySchedule: [0]))).Id);
        }
        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(async () =>
                (await api.ListDeliveriesAsync(s.App.Id, message.Id)).Data is { Count: 5 } all && all.All(d => d.Status == "exhausted"),
            TimeSpan.FromSeconds(20), "every delivery is refused");
        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal(5, attempts.Count);
        // Refused by the guard ("blocked"), not by the network: a connection tried would have ended "connection" or "timeout".
        Assert.All(attempts, a =>
        {
            Assert.Equal("blocked", a.ErrorKind);
            Assert.Null(a.ResponseStatus);
        });
        Assert.Empty(s.Receiver.Requests);
    }

    [Fact]
    public async Task A_worker_started_without_the_setting_refuses_loopback()
    {
        // Every other test process allows private networks; this worker has no such setting at all.
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__AllowPrivateNetworks"] = null,
        });
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RetrySchedule = [0] });
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal("blocked", attempt.ErrorKind);
        Assert.Empty(s.Receiver.Requests);
    }
}
