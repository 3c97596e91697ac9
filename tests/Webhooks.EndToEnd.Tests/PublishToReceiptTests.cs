using System.Text.Json;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.EndToEnd.Tests;

/// <summary>The whole path: API → Postgres → Worker → signed POST → receiver SDK, on real processes.</summary>
[Collection(StackFixture.Collection)]
public sealed class PublishToReceiptTests
{
    [Fact]
    public async Task Hundred_published_messages_each_arrive_verified_exactly_once_and_are_recorded_as_succeeded()
    {
        var stack = await TestStack.GetAsync();
        await stack.WorkerAsync();
        var api = await stack.AdminClientAsync();
        var secret = WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret, "order.created");

        var app = await api.CreateApplicationAsync(new ApplicationIn("e2e " + Guid.NewGuid()));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret));
        Assert.Equal(secret, endpoint.Secret);

        var published = new List<MessageOut>();
        foreach (var chunk in Enumerable.Range(0, 100).Chunk(10))
        {
            published.AddRange(await Task.WhenAll(chunk.Select(n =>
                api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n, note = $"order {n}" }))))));
        }
        var ids = published.Select(m => m.Id).ToHashSet();
        Assert.Equal(100, ids.Count);

        await Eventually.HoldsAsync(() => receiver.Handled.Select(h => h.Id).Distinct().Count() >= 100, TimeSpan.FromSeconds(60),
            "all 100 messages reached the receiver");
        // A sentinel published after them: once it has arrived, so has anything sent before it (a stray duplicate).
        var sentinel = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = -1 })));
        await Eventually.HoldsAsync(() => receiver.Handled.Any(h => h.Id == sentinel.Id), TimeSpan.FromSeconds(20), "the sentinel arrives");

        var handled = receiver.Handled.Where(h => h.Id != sentinel.Id).ToArray();
        Assert.Equal(100, handled.Length);
        Assert.Equal(101, receiver.Requests.Count);
        Assert.True(ids.SetEquals(handled.Select(h => h.Id)), "the receiver got exactly the published message ids");
        foreach (var webhook in handled)
        {
            var message = published.Single(m => m.Id == webhook.Id);
            Assert.Equal("order.created", webhook.EventType);
            Assert.Equal(message.Payload.GetProperty("n").GetInt32(), webhook.Data.GetProperty("n").GetInt32());
        }
        // Every request carried a trace context, so the receiver's trace continues the publisher's.
        Assert.All(receiver.Requests, r => Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", r.Headers["traceparent"]));

        foreach (var message in published)
        {
            await Eventually.HoldsAsync(async () =>
                    (await api.ListDeliveriesAsync(app.Id, message.Id)).Data is [{ Status: "succeeded" }],
                TimeSpan.FromSeconds(20), $"the delivery of {message.Id} recorded as succeeded");
            var attempt = Assert.Single((await api.ListAttemptsAsync(app.Id, message.Id)).Data);
            Assert.True(attempt.Succeeded);
            Assert.Equal(204, attempt.ResponseStatus);
            Assert.Equal(endpoint.Id, attempt.EndpointId);
        }
    }
}
