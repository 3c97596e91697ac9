using System.Text.Json;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// An application with one endpoint (subscribed to <c>order.created</c>) pointing at a fresh receiver of its own, and a
/// sentinel endpoint on another receiver for asserting that something did not happen.
/// </summary>
public sealed class Scenario : IAsyncDisposable
{
    public const string SentinelEventType = "sentinel.checked";
    private TestReceiver? _sentinel;

    private Scenario(IWebhooksApi api, ApplicationOut app, EndpointCreated endpoint, TestReceiver receiver, string secret)
    {
        Api = api;
        App = app;
        Endpoint = endpoint;
        Receiver = receiver;
        Secret = secret;
    }

    public IWebhooksApi Api { get; }
    public ApplicationOut App { get; }
    public EndpointCreated Endpoint { get; }
    public TestReceiver Receiver { get; }
    public string Secret { get; }

    public static async Task<Scenario> CreateAsync(IWebhooksApi api, Func<EndpointIn, EndpointIn>? endpoint = null, Func<ReceivedRequest, Task<int?>>? respond = null)
    {
        var secret = WebhookSecret.Generate().ToString();
        var receiver = await TestReceiver.StartAsync(secret, "order.created");
        receiver.Respond = respond;
        var app = await api.CreateApplicationAsync(new ApplicationIn("worker test " + Guid.NewGuid().ToString("N")[..8]));
        var input = new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret, EventTypes: ["order.created"]);
        var created = await api.CreateEndpointAsync(app.Id, endpoint?.Invoke(input) ?? input);
        return new Scenario(api, app, created, receiver, secret);
    }

    public Task<MessageOut> PublishAsync(int n, string eventType = "order.created") =>
        Api.PublishAsync(App.Id, new MessageIn(eventType, JsonSerializer.SerializeToElement(new { n })));

    public async Task<List<MessageOut>> PublishManyAsync(int count)
    {
        var published = new List<MessageOut>();
        foreach (var chunk in Enumerable.Range(0, count).Chunk(20))
        {
            published.AddRange(await Task.WhenAll(chunk.Select(n => PublishAsync(n))));
        }
        return published;
    }

    public async Task<DeliveryOut> DeliveryAsync(string messageId, string? endpointId = null) =>
        Assert.Single((await Api.ListDeliveriesAsync(App.Id, messageId)).Data, d => endpointId is null || d.EndpointId == endpointId);

    public async Task<IReadOnlyList<AttemptOut>> AttemptsAsync(string messageId) =>
        (await Api.ListAttemptsAsync(App.Id, messageId)).Data;

    public Task WaitForStatusAsync(string messageId, string status, TimeSpan timeout, string? endpointId = null) =>
        Eventually.HoldsAsync(async () => (await DeliveryAsync(messageId, endpointId)).Status == status, timeout, $"{messageId} becomes {status}");

    public Task WaitForHandledAsync(int count, TimeSpan timeout) =>
        Eventually.HoldsAsync(() => Receiver.Handled.Select(h => h.Id).Distinct().Count() >= count, timeout, $"{count} webhooks handled");

    /// <summary>
    /// Publishes a sentinel after whatever the test did and waits until it is delivered and recorded, on an endpoint
    /// of its own in the same application. Claims take the application's due deliveries oldest first, so whatever was
    /// due before the sentinel has been claimed and sent by then: assert "nothing more was sent" after this, instead
    /// of after a fixed wait.
    /// </summary>
    public async Task SentinelDeliveredAsync(TimeSpan? timeout = null)
    {
        if (_sentinel is null)
        {
            _sentinel = await TestReceiver.StartAsync(Secret, SentinelEventType);
            await Api.CreateEndpointAsync(App.Id, new EndpointIn(_sentinel.WebhookUrl.ToString(), Secret: Secret, EventTypes: [SentinelEventType]));
        }
        var sentinel = await PublishAsync(-1, SentinelEventType);
        await Eventually.HoldsAsync(async () => _sentinel.Handled.Any(h => h.Id == sentinel.Id) &&
                (await Api.ListDeliveriesAsync(App.Id, sentinel.Id)).Data.Any(d => d.Status == "succeeded"),
            timeout ?? TimeSpan.FromSeconds(20), "the sentinel published after the test's messages is delivered");
    }

    public async ValueTask DisposeAsync()
    {
        await Receiver.DisposeAsync();
        if (_sentinel is not null)
        {
            await _sentinel.DisposeAsync();
        }
    }
}
