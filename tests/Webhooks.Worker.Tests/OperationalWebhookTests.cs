using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>The platform owner hears of disabled endpoints and exhausted deliveries through webhooks of their own.</summary>
[Collection(StackFixture.Collection)]
public sealed class OperationalWebhookTests(StackFixture fixture)
{
    [Fact]
    public async Task Exhausted_deliveries_and_a_disabled_endpoint_are_sent_to_the_operational_application()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__DisableAfterFailures"] = "2",
            ["Webhooks__Delivery__DisableAfterSeconds"] = "0",
        });
        var api = isolated.Client();

        // The owner's own application (uid 'operational') with an endpoint subscribed to both events.
        var ownerSecret = WebhookSecret.Generate().ToString();
        await using var owner = await TestReceiver.StartAsync(ownerSecret, "endpoint.disabled", "message.attempt.exhausted");
        var operational = await api.CreateApplicationAsync(new ApplicationIn("platform operations", "operational"));
        await api.CreateEndpointAsync(operational.Id, new EndpointIn(owner.WebhookUrl.ToString(),
            EventTypes: ["endpoint.disabled", "message.attempt.exhausted"], Secret: ownerSecret));

        // A customer's endpoint that always fails, one attempt per message.
        await using var s = await Scenario.CreateAsync(api, e => e with { RetrySchedule = [0] }, _ => Task.FromResult<int?>(500));
        var first = await s.PublishAsync(1);
        await s.WaitForStatusAsync(first.Id, "exhausted", TimeSpan.FromSeconds(20));
        var second = await s.PublishAsync(2);
        await s.WaitForStatusAsync(second.Id, "exhausted", TimeSpan.FromSeconds(20));
        await Eventually.HoldsAsync(async () => (await api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Disabled, TimeSpan.FromSeconds(20), "disabled");

        await Eventually.HoldsAsync(() => owner.Handled.Count >= 3, TimeSpan.FromSeconds(20), "three operational webhooks");
        var exhausted = owner.Handled.Where(h => h.EventType == "message.attempt.exhausted").ToList();
        Assert.Equal([first.Id, second.Id], exhausted.Select(h => h.Data.GetProperty("messageId").GetString()).Order());
        Assert.All(exhausted, h =>
        {
            Assert.Equal(s.App.Id, h.Data.GetProperty("applicationId").GetString());
            Assert.Equal(s.Endpoint.Id, h.Data.GetProperty("endpointId").GetString());
            Assert.Equal(500, h.Data.GetProperty("lastStatusCode").GetInt32());
        });
        var disabled = Assert.Single(owner.Handled, h => h.EventType == "endpoint.disabled");
        Assert.Equal(s.Endpoint.Id, disabled.Data.GetProperty("endpointId").GetString());
        Assert.StartsWith("Failing without a success", disabled.Data.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // They are ordinary messages of the operational application: listed, with their attempts.
        var listed = await api.ListMessagesAsync(operational.Id);
        Assert.Equal(3, listed.Data.Count);
        // None more: once a sentinel published after them has been delivered, still three.
        await s.SentinelDeliveredAsync();
        Assert.Equal(3, owner.Handled.Count);
        Assert.Equal(3, (await api.ListMessagesAsync(operational.Id)).Data.Count);
    }
}
