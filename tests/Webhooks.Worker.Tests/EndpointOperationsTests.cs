using System.Net;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>Test events, stats, the attempt log and deletion, through the API and the real worker.</summary>
[Collection(StackFixture.Collection)]
public sealed class EndpointOperationsTests(StackFixture fixture)
{
    [Fact]
    public async Task A_test_event_returns_its_attempt_with_request_headers_and_feeds_the_stats()
    {
        await fixture.Stack.WorkerAsync();
        var failing = false;
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with
            {
                RetrySchedule = [0],
                Headers = new Dictionary<string, string> { ["Authorization"] = "Bearer s3cr3t-token", ["x-team"] = "billing" },
            },
            _ => Task.FromResult(failing ? 503 : (int?)null));
        var schema = JsonDocument.Parse("""{"type":"object","required":["id"],"examples":[{"id":"in_1","total":42}]}""").RootElement;
        await s.Api.CreateEventTypeAsync(s.App.Id, new EventTypeIn("order.created", Schema: schema));

        // The example of the event type's schema is sent, signed, now; the answer carries the attempt.
        var sent = await s.Api.TestEndpointAsync(s.App.Id, s.Endpoint.Id, new EndpointTestIn("order.created"));
        var attempt = Assert.IsType<AttemptOut>(sent.Attempt);
        Assert.True(attempt.Succeeded);
        Assert.Equal("test", attempt.Trigger);
        Assert.InRange(attempt.ResponseStatus!.Value, 200, 299);
        var received = Assert.Single(s.Receiver.Handled);
        Assert.Equal(sent.MessageId, received.Id);
        Assert.Equal(42, received.Data.GetProperty("total").GetInt32());

        // The log shows what was sent, but not the credential in a custom header.
        var headers = attempt.RequestHeaders!;
        Assert.Equal(sent.MessageId, headers["webhook-id"]);
        Assert.StartsWith("v1,", headers["webhook-signature"], StringComparison.Ordinal);
        Assert.Equal("[redacted]", headers["authorization"]);
        Assert.Equal("billing", headers["x-team"]);
        Assert.DoesNotContain("s3cr3t", JsonSerializer.Serialize(await s.Api.GetAttemptAsync(s.App.Id, attempt.Id)), StringComparison.Ordinal);
        Assert.Equal("Bearer s3cr3t-token", s.Receiver.Requests.Single().Headers["authorization"]);

        // A payload that breaks the schema is refused before anything is sent.
        var refused = await Assert.ThrowsAnyAsync<ApiException>(() => s.Api.TestEndpointAsync(s.App.Id, s.Endpoint.Id,
            new EndpointTestIn("order.created", JsonSerializer.SerializeToElement(new { total = 1 }))));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);

        // A failing receiver: the attempt shows the status and body; stats and filters see it.
        failing = true;
        s.Receiver.ResponseBody = "maintenance until 10:00";
        var failed = (await s.Api.TestEndpointAsync(s.App.Id, s.Endpoint.Id, new EndpointTestIn("order.created", JsonSerializer.SerializeToElement(new { id = "in_2" })))).Attempt!;
        Assert.False(failed.Succeeded);
        Assert.Equal(503, failed.ResponseStatus);
        Assert.Equal("maintenance until 10:00", failed.ResponseBody);

        var stats = await s.Api.GetEndpointStatsAsync(s.App.Id, s.Endpoint.Id);
        Assert.Equal(new StatsWindowOut(2, 1, 1, 0.5), stats.Last24h);
        Assert.Equal(stats.Last24h, stats.Last7d);
        Assert.Equal(failed.Id, stats.LastFailure!.AttemptId);
        Assert.Equal(503, stats.LastFailure.ResponseStatus);

        Assert.Equal([failed.Id], (await s.Api.ListEndpointAttemptsAsync(s.App.Id, s.Endpoint.Id, new AttemptQuery(Status: "failed"))).Data.Select(a => a.Id));
        Assert.Equal([failed.Id, attempt.Id], (await s.Api.ListEndpointAttemptsAsync(s.App.Id, s.Endpoint.Id)).Data.Select(a => a.Id));
        Assert.Empty((await s.Api.ListEndpointAttemptsAsync(s.App.Id, s.Endpoint.Id, new AttemptQuery(Since: DateTimeOffset.UtcNow.AddMinutes(1)))).Data);
        Assert.Equal(["exhausted"], (await s.Api.ListEndpointDeliveriesAsync(s.App.Id, s.Endpoint.Id, new DeliveryQuery(Status: "exhausted"))).Data.Select(d => d.Status));

        // A resend is logged as manual.
        failing = false;
        await s.Api.ResendAsync(s.App.Id, failed.MessageId, s.Endpoint.Id);
        await s.WaitForStatusAsync(failed.MessageId, "succeeded", TimeSpan.FromSeconds(20));
        Assert.Equal(["test", "manual"], (await s.AttemptsAsync(failed.MessageId)).Select(a => a.Trigger));
    }

    [Fact]
    public async Task Deleting_an_endpoint_mid_delivery_lets_the_attempt_finish_then_removes_its_rows()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__LeaseSweepSeconds"] = "1",
            ["Webhooks__Delivery__MaxInFlightPerEndpoint"] = "1",
        });
        var release = new TaskCompletionSource();
        await using var s = await Scenario.CreateAsync(isolated.Client(), respond: async _ =>
        {
            await release.Task;
            return 500;
        });
        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(() => !s.Receiver.Requests.IsEmpty, TimeSpan.FromSeconds(10), "the request is in flight");
        var queued = await s.PublishAsync(2);

        await s.Api.DeleteEndpointAsync(s.App.Id, s.Endpoint.Id);
        await Assert.ThrowsAnyAsync<ApiException>(() => s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id));
        // Still there, hidden: a delivery to it is in flight.
        Assert.Equal(1L, await isolated.QueryAsync<long>("SELECT count(*) FROM endpoints WHERE id = @id", ("id", s.Endpoint.Id)));
        Assert.Equal("cancelled", await isolated.QueryAsync<string>("SELECT status FROM deliveries WHERE message_id = @id", ("id", queued.Id)));

        release.SetResult();
        await Eventually.HoldsAsync(
            async () => await isolated.QueryAsync<long>("SELECT count(*) FROM endpoints WHERE id = @id", ("id", s.Endpoint.Id)) == 0,
            TimeSpan.FromSeconds(20), "the endpoint's rows are purged");
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE message_id IN (@a, @b)", ("a", message.Id), ("b", queued.Id)));
        // Nothing more was sent: the failed attempt was not retried, the queued one never went.
        await s.SentinelDeliveredAsync();
        Assert.Single(s.Receiver.Requests);
        // The messages themselves belong to the application and stay.
        Assert.Equal(message.Id, (await s.Api.GetMessageAsync(s.App.Id, message.Id)).Id);
    }
}
