using System.Text;
using System.Text.Json;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// Transformations and chat formats through the real worker: what is sent and signed, a failing script's attempt and
/// its block until the script changes, cancel, and Slack and Discord receivers that accept only what those services do.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class TransformationTests(StackFixture fixture)
{
    private static readonly Func<ReceivedRequest, Task<int?>> AcceptAnything = _ => Task.FromResult<int?>(200);

    [Fact]
    public async Task The_transformed_body_is_sent_signed_with_the_scripts_method_path_and_headers()
    {
        await fixture.Stack.WorkerAsync();
        const string script = """
            function handler(webhook) {
              webhook.payload = { kind: webhook.eventType, order: webhook.payload.data.n, at: Date.now() };
              webhook.method = 'PUT';
              webhook.url = webhook.url + '?via=transformation';
              webhook.headers['X-Transformed'] = 'yes';
              return webhook;
            }
            """;
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(), e => e with { Transformation = script }, AcceptAnything);
        Assert.Equal(script, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Transformation);

        var message = await s.PublishAsync(7);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));

        var request = Assert.Single(s.Receiver.Requests);
        Assert.Equal($$"""{"kind":"order.created","order":7,"at":{{message.CreatedAt.ToUnixTimeMilliseconds()}}}""", Encoding.UTF8.GetString(request.Body));
        Assert.Equal("yes", request.Headers["x-transformed"]);
        Assert.Equal("/webhooks", request.Path);
        // The signature is over the body as sent: a Standard Webhooks verifier accepts it.
        var verified = SignatureScheme.Verify([WebhookSecret.Parse(s.Secret)], request.Headers["webhook-id"], request.Headers["webhook-timestamp"],
            request.Headers["webhook-signature"], request.Body, DateTimeOffset.UtcNow, SignatureScheme.DefaultTolerance);
        Assert.Equal(VerificationResult.Valid, verified);
        Assert.Equal(message.Id, request.Headers["webhook-id"]);
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.EndsWith("/webhooks?via=transformation", attempt.Url);
    }

    [Fact]
    public async Task A_failing_script_records_a_transformation_attempt_and_waits_for_a_changed_script()
    {
        await fixture.Stack.WorkerAsync();
        const string broken = "function handler(webhook) {\n  if (webhook.payload.data.n > 0) { throw new Error('no ' + webhook.payload.data.n); }\n  return webhook;\n}";
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { Transformation = broken, RetrySchedule = [0, 1, 1, 1] });
        var failing = await s.PublishAsync(1);
        var passing = await s.PublishAsync(0);

        // The attempt is on record with the script's error and where it was thrown; the other message went.
        await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(failing.Id)).Count == 1, TimeSpan.FromSeconds(20), "the failed attempt is recorded");
        var attempt = Assert.Single(await s.AttemptsAsync(failing.Id));
        Assert.Equal(("transformation", false, null), (attempt.ErrorKind, attempt.Succeeded, attempt.ResponseStatus));
        Assert.Contains("line 2", attempt.ErrorMessage);
        Assert.Contains("no 1", attempt.ErrorMessage);
        await s.WaitForStatusAsync(passing.Id, "succeeded", TimeSpan.FromSeconds(20));

        // Not retried, though its schedule says 1 s: blocked, not due. Enabling the endpoint does not release it, and the
        // endpoint's health is untouched (the receiver is not to blame).
        await s.Api.DisableEndpointAsync(s.App.Id, s.Endpoint.Id, new DisableEndpointIn());
        await s.Api.EnableEndpointAsync(s.App.Id, s.Endpoint.Id);
        await s.SentinelDeliveredAsync();
        var blocked = await s.DeliveryAsync(failing.Id, s.Endpoint.Id);
        Assert.Equal(("failed", 1, (DateTimeOffset?)null), (blocked.Status, blocked.AttemptCount, blocked.NextAttemptAt));
        Assert.Single(await s.AttemptsAsync(failing.Id));
        Assert.Equal(0, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).ConsecutiveFailures);

        // An update that leaves the script alone does not release it either; a changed script does, at once.
        var endpoint = await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        var update = new EndpointUpdateIn(endpoint.Url, "renamed", endpoint.EventTypes, RetrySchedule: [0, 1, 1, 1], Transformation: broken);
        await s.Api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id, update);
        await s.SentinelDeliveredAsync();
        Assert.Equal("failed", (await s.DeliveryAsync(failing.Id, s.Endpoint.Id)).Status);
        await s.Api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id, update with { Transformation = "function handler(webhook) { return webhook; }" });
        await s.WaitForStatusAsync(failing.Id, "succeeded", TimeSpan.FromSeconds(20), s.Endpoint.Id);
        Assert.Contains(s.Receiver.Handled, h => h.Id == failing.Id);
    }

    [Fact]
    public async Task Hostile_scripts_each_end_in_a_transformation_attempt_while_the_worker_keeps_delivering()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        string[] scripts =
        [
            "function handler(w) { while (true) {} }",
            "function handler(w) { function f(n) { return f(n + 1); } return f(0); }",
            "function handler(w) { w.payload = 'x'.repeat(1e9); return w; }",
            "function handler(w) { var a = []; for (;;) a.push([a.length, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']); }",
            "function handler(w) { return 'garbage'; }",
            "function handler(w) { var o = {}; o.o = o; w.payload = o; return w; }",
            "function handler(w) { require('child_process').exec('id'); return w; }",
            "function handler(w) { fetch('http://169.254.169.254/latest/meta-data'); return w; }",
            "function handler(w) { System.Environment.Exit(1); return w; }",
            "function handler(w) { w.url = 'http://169.254.169.254/latest/meta-data'; return w; }",
            "function handler(w) { w.headers['webhook-signature'] = 'v1,forged'; return w; }",
        ];
        await using var s = await Scenario.CreateAsync(api, e => e with { Transformation = scripts[0] }, AcceptAnything);
        var hostile = new List<string> { s.Endpoint.Id };
        foreach (var script in scripts.Skip(1))
        {
            hostile.Add((await api.CreateEndpointAsync(s.App.Id, new EndpointIn(s.Receiver.WebhookUrl.ToString(), EventTypes: ["order.created"],
                Secret: s.Secret, Transformation: script))).Id);
        }
        var message = await s.PublishAsync(1);

        await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(message.Id)).Count(a => a.ErrorKind == "transformation") == scripts.Length,
            TimeSpan.FromSeconds(60), "every hostile script's attempt is recorded");
        // Nothing reached the receiver, and the worker still delivers (the sentinel goes through the same worker).
        await s.SentinelDeliveredAsync();
        Assert.Empty(s.Receiver.Requests);
        var attempts = await s.AttemptsAsync(message.Id);
        Assert.All(hostile, id => Assert.Single(attempts, a => a.EndpointId == id));
        Assert.All(attempts, a => Assert.Equal("transformation", a.ErrorKind));
    }

    [Fact]
    public async Task Cancel_skips_the_delivery_records_it_as_cancelled_and_spares_the_endpoints_health()
    {
        await fixture.Stack.WorkerAsync();
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { Transformation = "function handler(w) { w.cancel = w.payload.data.n % 2 === 1; return w; }" });
        var sent = await s.PublishAsync(2);
        await s.WaitForStatusAsync(sent.Id, "succeeded", TimeSpan.FromSeconds(20));
        // Cancelled after the success: were they failures, the streak would show them.
        var skipped = new[] { await s.PublishAsync(1), await s.PublishAsync(3), await s.PublishAsync(5) };

        foreach (var message in skipped)
        {
            await s.WaitForStatusAsync(message.Id, "cancelled", TimeSpan.FromSeconds(20));
            var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
            Assert.Equal(("cancelled", (int?)null), (attempt.ErrorKind, attempt.ResponseStatus));
            Assert.DoesNotContain(s.Receiver.Requests, r => r.Headers["webhook-id"] == message.Id);
        }
        var endpoint = await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id);
        Assert.Equal((0, CircuitStates.Closed), (endpoint.ConsecutiveFailures, endpoint.CircuitState));
    }

    [Fact]
    public async Task Slack_and_discord_endpoints_get_messages_their_services_accept_even_from_large_payloads()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        await using var chat = await ChatReceiver.StartAsync();
        var secret = WebhookSecret.Generate().ToString();
        var app = await api.CreateApplicationAsync(new ApplicationIn("chat " + Guid.NewGuid().ToString("N")[..8]));
        var slack = await api.CreateEndpointAsync(app.Id, new EndpointIn(chat.SlackUrl.ToString(), Secret: secret, Format: EndpointFormats.Slack));
        var discord = await api.CreateEndpointAsync(app.Id, new EndpointIn(chat.DiscordUrl.ToString(), Secret: secret, Format: EndpointFormats.Discord));
        Assert.Equal(EndpointFormats.Slack, slack.Endpoint.Format);

        // A plain event, and one made to break naive rendering: 60 fields, 5000-character strings ending in an emoji at the
        // cut, nested values, an empty key and value, mention syntax.
        var small = await api.PublishAsync(app.Id, new MessageIn("invoice.paid", JsonSerializer.SerializeToElement(new { summary = "Invoice 42 paid <!channel> @everyone", amount = 12.5, paid = true })));
        var large = new Dictionary<string, object?> { ["summary"] = new string('s', 5000), [""] = "", ["nested"] = new { a = new[] { 1, 2, 3 }, b = new string('n', 3000) } };
        for (var i = 0; i < 60; i++)
        {
            large[$"field_{i}_{new string('k', 300)}"] = new string('v', 4999) + "😀";
        }
        var big = await api.PublishAsync(app.Id, new MessageIn(new string('e', 200), JsonSerializer.SerializeToElement(large)));

        await Eventually.HoldsAsync(async () =>
        {
            var deliveries = (await api.ListDeliveriesAsync(app.Id, small.Id)).Data.Concat((await api.ListDeliveriesAsync(app.Id, big.Id)).Data).ToList();
            return deliveries.Count == 4 && deliveries.All(d => d.Status is "succeeded" or "exhausted" or "failed");
        }, TimeSpan.FromSeconds(30), "every delivery is attempted");
        Assert.Empty(chat.Rejected);
        Assert.Equal(2, chat.Accepted.Count(a => a.Path == "slack"));
        Assert.Equal(2, chat.Accepted.Count(a => a.Path == "discord"));

        var slackSmall = chat.Accepted.First(a => a.Path == "slack" && a.Body.GetProperty("text").GetString()!.StartsWith("invoice.paid", StringComparison.Ordinal)).Body;
        // Slack's control characters from the payload are escaped: no channel-wide ping.
        Assert.Equal("invoice.paid: Invoice 42 paid &lt;!channel&gt; @everyone", slackSmall.GetProperty("text").GetString());
        var discordSmall = chat.Accepted.First(a => a.Path == "discord" && a.Body.GetProperty("content").GetString()!.Contains("invoice.paid", StringComparison.Ordinal)).Body;
        Assert.Equal("invoice.paid", discordSmall.GetProperty("embeds")[0].GetProperty("title").GetString());
        Assert.Equal(0, discordSmall.GetProperty("allowed_mentions").GetProperty("parse").GetArrayLength());
    }

    [Fact]
    public async Task The_chat_receivers_reject_what_slack_and_discord_would()
    {
        // The receivers above are only worth something if they refuse: the Standard Webhooks envelope is neither shape.
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        await using var chat = await ChatReceiver.StartAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("chat " + Guid.NewGuid().ToString("N")[..8]));
        await api.CreateEndpointAsync(app.Id, new EndpointIn(chat.SlackUrl.ToString(), RetrySchedule: [0]));
        await api.CreateEndpointAsync(app.Id, new EndpointIn(chat.DiscordUrl.ToString(), RetrySchedule: [0]));
        var message = await api.PublishAsync(app.Id, new MessageIn("invoice.paid", JsonSerializer.SerializeToElement(new { amount = 1 })));

        await Eventually.HoldsAsync(async () => (await api.ListDeliveriesAsync(app.Id, message.Id)).Data.All(d => d.Status == "exhausted"),
            TimeSpan.FromSeconds(30), "both deliveries are refused");
        Assert.Empty(chat.Accepted);
        Assert.Contains(chat.Rejected, r => r.Path == "slack" && r.Reason.Contains("Unknown top-level key", StringComparison.Ordinal));
        Assert.Contains(chat.Rejected, r => r.Path == "discord" && r.Reason.Contains("Unknown top-level key", StringComparison.Ordinal));
        Assert.Null(SlackShape.Check(JsonDocument.Parse("""{"text":"x","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"y"}}]}""").RootElement));
        Assert.NotNull(SlackShape.Check(JsonDocument.Parse($$$"""{"text":"x","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"{{{new string('y', 3001)}}}"}}]}""").RootElement));
        Assert.NotNull(DiscordShape.Check(JsonDocument.Parse($$$"""{"embeds":[{"title":"t","fields":[{"name":"n","value":"{{{new string('v', 1025)}}}"}]}]}""").RootElement));
        Assert.NotNull(DiscordShape.Check(JsonDocument.Parse("""{"embeds":[{"title":"t","fields":[{"name":"n","value":""}]}]}""").RootElement));
    }
}
