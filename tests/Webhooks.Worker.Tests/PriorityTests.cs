using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Message priority: among due deliveries, higher priorities are claimed first.</summary>
[Collection(StackFixture.Collection)]
public sealed class PriorityTests(StackFixture fixture)
{
    private static MessageIn Message(int n, int priority) =>
        new("order.created", JsonSerializer.SerializeToElement(new { n, priority }), Priority: priority);

    [Fact]
    public async Task Priority_9_messages_published_after_a_backlog_of_2000_priority_1_messages_arrive_before_most_of_it()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        // The receiver holds the first requests until everything is published, so the backlog is due and waiting when
        // the priority-9 messages join it: only the claim's order can put them first.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var s = await Scenario.CreateAsync(api, e => e with { TimeoutSeconds = 60 }, async _ =>
        {
            await gate.Task;
            return null;
        });
        foreach (var chunk in Enumerable.Range(0, 2000).Chunk(500))
        {
            await api.PublishBatchAsync(s.App.Id, new MessageBatchIn([.. chunk.Select(n => Message(n, 1))]));
        }
        await Eventually.HoldsAsync(() => !s.Receiver.Requests.IsEmpty, TimeSpan.FromSeconds(30), "the backlog starts to be sent");
        var urgent = await api.PublishBatchAsync(s.App.Id, new MessageBatchIn([.. Enumerable.Range(0, 20).Select(n => Message(n, 9))]));
        Assert.All(urgent.Data, m => Assert.Equal(9, m.Priority));
        gate.SetResult();

        await s.WaitForHandledAsync(2020, TimeSpan.FromSeconds(120));
        var arrivals = s.Receiver.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("priority").GetInt32()).ToList();
        var lastUrgent = arrivals.LastIndexOf(9);
        // Without priority they would come last (after 2,000); at most the requests already held by the receiver when they
        // were published go before them, and whatever the worker had claimed in the same round.
        Assert.True(lastUrgent < 200, $"the last priority-9 message arrived {lastUrgent + 1}th of {arrivals.Count}");
    }

    [Fact]
    public async Task Priority_defaults_to_5_and_is_returned_and_out_of_range_is_a_validation_problem_naming_the_field()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("priority " + Guid.NewGuid().ToString("N")[..8]));
        var plain = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 })));
        Assert.Equal(5, plain.Priority);
        Assert.Equal(0, (await api.PublishAsync(app.Id, Message(2, 0))).Priority);
        Assert.Equal(9, (await api.GetMessageAsync(app.Id, (await api.PublishAsync(app.Id, Message(3, 9))).Id)).Priority);

        using var http = (await fixture.Stack.ApiAsync()).Http();
        var single = await http.PostAsJsonAsync($"api/v1/apps/{app.Id}/messages", new { eventType = "order.created", payload = new { n = 1 }, priority = 10 });
        Assert.True(single.StatusCode == HttpStatusCode.BadRequest, await single.Content.ReadAsStringAsync());
        Assert.Contains("\"priority\"", await single.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var batch = await http.PostAsJsonAsync($"api/v1/apps/{app.Id}/messages/batch",
            new { messages = new object[] { new { eventType = "order.created", payload = new { n = 1 } }, new { eventType = "order.created", payload = new { n = 2 }, priority = -1 } } });
        Assert.True(batch.StatusCode == HttpStatusCode.BadRequest, await batch.Content.ReadAsStringAsync());
        Assert.Contains("messages[1].priority", await batch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
