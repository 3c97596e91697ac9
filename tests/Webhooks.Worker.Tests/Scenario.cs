using System.Text.Json;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>An application with one endpoint pointing at a fresh receiver of its own.</summary>
public sealed class Scenario : IAsyncDisposable
{
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
        var input = new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret);
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

    public async Task<DeliveryOut> DeliveryAsync(string messageId) =>
        Assert.Single((await Api.ListDeliveriesAsync(App.Id, messageId)).Data);

    public async Task<IReadOnlyList<AttemptOut>> AttemptsAsync(string messageId) =>
        (await Api.ListAttemptsAsync(App.Id, messageId)).Data;

    public Task WaitForStatusAsync(string messageId, string status, TimeSpan timeout) =>
        Eventually.HoldsAsync(async () => (await DeliveryAsync(messageId)).Status == status, timeout, $"{messageId} becomes {status}");

    public Task WaitForHandledAsync(int count, TimeSpan timeout) =>
        Eventually.HoldsAsync(() => Receiver.Handled.Select(h => h.Id).Distinct().Count() >= count, timeout, $"{count} webhooks handled");

    public ValueTask DisposeAsync() => Receiver.DisposeAsync();
}
