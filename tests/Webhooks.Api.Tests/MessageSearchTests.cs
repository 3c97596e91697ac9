using System.Net;
using System.Text.Json;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>The message list's filters: status, endpoint, search, payload filter, and paging both ways.</summary>
[Collection(StackFixture.Collection)]
public sealed class MessageSearchTests(StackFixture fixture)
{
    private static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);

    [Fact]
    public async Task Messages_are_found_by_status_endpoint_key_and_payload_and_paged_both_ways()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("search"));
        var orders = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/orders", EventTypes: ["order.created"]));
        var published = new List<MessageOut>();
        for (var i = 0; i < 5; i++)
        {
            published.Add(await api.PublishAsync(app.Id, new MessageIn("order.created", Json(new { amount = i * 100, currency = i % 2 == 0 ? "EUR" : "USD" }),
                IdempotencyKey: $"order-{i}")));
        }
        var nobody = await api.PublishAsync(app.Id, new MessageIn("user.deleted", Json(new { user = 1 })));

        // No worker runs in this test process: the subscribed messages are pending; the other went nowhere.
        var all = await api.ListMessagesAsync(app.Id);
        Assert.Equal(nobody.Id, all.Data[0].Id);
        Assert.Equal(MessageStatuses.FilteredOut, all.Data[0].Status);
        Assert.All(all.Data.Skip(1), m => Assert.Equal(MessageStatuses.Pending, m.Status));
        Assert.Equal([nobody.Id], (await api.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.FilteredOut))).Data.Select(m => m.Id));
        Assert.Equal(5, (await api.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Pending))).Data.Count);
        Assert.Empty((await api.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Delivered))).Data);
        Assert.Equal(5, (await api.ListMessagesAsync(app.Id, new MessageQuery(EndpointId: orders.Id))).Data.Count);

        // Found by idempotency key or id, and by payload (the endpoint filters' syntax, run by Postgres).
        Assert.Equal([published[3].Id], (await api.ListMessagesAsync(app.Id, new MessageQuery(Search: "order-3"))).Data.Select(m => m.Id));
        Assert.Equal([published[2].Id], (await api.ListMessagesAsync(app.Id, new MessageQuery(Search: published[2].Id))).Data.Select(m => m.Id));
        var big = await api.ListMessagesAsync(app.Id, new MessageQuery(Since: DateTimeOffset.UtcNow.AddHours(-1), PayloadFilter: """{"amount":{"$gte":200},"currency":"EUR"}"""));
        Assert.Equal([published[4].Id, published[2].Id], big.Data.Select(m => m.Id));

        // Paging: older with the iterator, newer with the first id of a page.
        var first = await api.ListMessagesAsync(app.Id, new MessageQuery(Limit: 2));
        var second = await api.ListMessagesAsync(app.Id, new MessageQuery(Limit: 2, Iterator: first.Iterator));
        Assert.Equal([published[3].Id, published[2].Id], second.Data.Select(m => m.Id));
        var back = await api.ListMessagesAsync(app.Id, new MessageQuery(Limit: 2, NewerThan: second.Data[0].Id));
        Assert.Equal(first.Data.Select(m => m.Id), back.Data.Select(m => m.Id));
        var newest = await api.ListMessagesAsync(app.Id, new MessageQuery(Limit: 2, NewerThan: first.Data[0].Id));
        Assert.Equal(first.Data.Select(m => m.Id), newest.Data.Select(m => m.Id));

        // The endpoint deleted: what waited for it is cancelled, then (its rows purged) went nowhere; never delivered.
        await api.DeleteEndpointAsync(app.Id, orders.Id);
        Assert.All((await api.ListMessagesAsync(app.Id)).Data, m => Assert.Contains(m.Status, new[] { MessageStatuses.Cancelled, MessageStatuses.FilteredOut }));
        Assert.Empty((await api.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Delivered))).Data);

        // What cannot be searched is a 400 naming it.
        using var http = (await fixture.Stack.ApiAsync()).Http();
        var hour = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("o", System.Globalization.CultureInfo.InvariantCulture));
        var bigNumber = Uri.EscapeDataString("""{"a":1e200000}""");
        foreach (var query in new[] { "status=lost", "endpointId=nope", $"since={hour}&payloadFilter=%7Bnot%20json",
                     $"since={hour}&payloadFilter=%7B%22a%22%3A%7B%22%24regex%22%3A1%7D%7D", $"since={hour}&payloadFilter={bigNumber}",
                     "payloadFilter=%7B%22a%22%3A1%7D",
                     $"iterator={first.Iterator}&newerThan={first.Iterator}" })
        {
            using var response = await http.GetAsync($"/api/v1/apps/{app.Id}/messages?{query}");
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
