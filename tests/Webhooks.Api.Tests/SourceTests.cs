using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>
/// Sources: webhooks coming in from GitHub, Stripe and Standard Webhooks senders, signed by the senders' own npm libraries
/// (<c>sources/sign.mjs</c>), verified, deduplicated, published, and delivered to a subscriber; every refusal publishes
/// nothing and is in the source's log.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class SourceTests(StackFixture fixture)
{
    private static readonly NodeFolder Senders = new("tests", "Webhooks.Api.Tests", "sources");

    /// <summary>The headers the sender's own library signs <paramref name="body"/> with.</summary>
    private static async Task<Dictionary<string, string>> SignAsync(string body, params string[] arguments)
    {
        var run = await Senders.RunAsync("sign.mjs", arguments, Encoding.UTF8.GetBytes(body));
        Assert.True(run.ExitCode == 0, run.Output);
        return JsonSerializer.Deserialize<Dictionary<string, string>>(run.StandardOutput)!;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> IngestAsync(string url, string body,
        IReadOnlyDictionary<string, string> headers, string contentType = "application/json")
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    private static string StripeEvent(string type) =>
        $$$"""{"id":"evt_{{{Guid.NewGuid():N}}}","object":"event","api_version":"2024-06-20","created":1733600000,"type":"{{{type}}}","data":{"object":{"id":"in_1","object":"invoice","amount_paid":1250,"currency":"eur","customer_name":"Zoë"}},"livemode":false}""";

    [Fact]
    public async Task GitHub_stripe_and_standard_webhooks_events_signed_by_their_own_libraries_reach_a_subscriber_once_as_sent()
    {
        // A stack of its own: the message must be delivered, and a worker of the shared stack would deliver the other tests' messages.
        await using var stack = await fixture.Stack.IsolatedAsync();
        var client = stack.Client();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Inbound"));
        var secret = WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret, "github.push", "stripe.invoice.paid", "order.created");
        await client.CreateEndpointAsync(app.Id, new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret));

        // GitHub: a real push example, signed with GitHub's scheme by octokit.
        var github = await client.CreateSourceAsync(app.Id, new SourceIn("GitHub", SourceTypes.GitHub, "It's a Secret to Everybody"));
        Assert.StartsWith(stack.Api.Url.AbsoluteUri.TrimEnd('/') + "/ingest/", github.IngestUrl, StringComparison.Ordinal);
        var push = (await Senders.RunAsync("sign.mjs", ["github-example", "push"])).StandardOutput;
        var pushHeaders = await SignAsync(push, "github", github.Secret);
        pushHeaders["X-GitHub-Event"] = "push";
        pushHeaders["X-GitHub-Delivery"] = Guid.NewGuid().ToString();
        var (status, answer, _) = await IngestAsync(github.IngestUrl, push, pushHeaders);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("github.push", false), (answer.GetProperty("eventType").GetString(), answer.GetProperty("duplicate").GetBoolean()));
        var pushMessage = answer.GetProperty("messageId").GetString();

        // GitHub's redelivery of the same delivery id publishes nothing.
        (status, answer, _) = await IngestAsync(github.IngestUrl, push, pushHeaders);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((pushMessage, true), (answer.GetProperty("messageId").GetString(), answer.GetProperty("duplicate").GetBoolean()));

        // A tampered body is refused and publishes nothing.
        (status, _, _) = await IngestAsync(github.IngestUrl, push.Replace("simple-tag", "simple-taG", StringComparison.Ordinal),
            new Dictionary<string, string>(pushHeaders) { ["X-GitHub-Delivery"] = Guid.NewGuid().ToString() });
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        // Stripe: an invoice.paid event signed by stripe's own test header; an old timestamp is refused.
        var stripeSecret = "whsec_" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var stripe = await client.CreateSourceAsync(app.Id, new SourceIn("Stripe", SourceTypes.Stripe, stripeSecret));
        var invoice = StripeEvent("invoice.paid");
        (status, answer, _) = await IngestAsync(stripe.IngestUrl, invoice, await SignAsync(invoice, "stripe", stripeSecret));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("stripe.invoice.paid", answer.GetProperty("eventType").GetString());
        var stale = StripeEvent("invoice.paid");
        var staleAt = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        (status, answer, _) = await IngestAsync(stripe.IngestUrl, stale, await SignAsync(stale, "stripe", stripeSecret, staleAt));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("timestamp", answer.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Standard Webhooks: the secret generated here, the event named by the sender's own 'type'.
        var partner = await client.CreateSourceAsync(app.Id, new SourceIn("Partner", SourceTypes.StandardWebhooks));
        const string order = "{\"type\":\"order.created\",\"timestamp\":\"2026-12-08T10:00:00Z\",\"data\":{\"id\":\"o-1\",\"total\":99.5}}";
        (status, answer, _) = await IngestAsync(partner.IngestUrl, order, await SignAsync(order, "standard", partner.Secret, "msg_" + Guid.NewGuid().ToString("N")));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("order.created", answer.GetProperty("eventType").GetString());

        // The subscriber got each of the three once, with the payload inside the envelope exactly as the sender sent it.
        await Eventually.HoldsAsync(() => receiver.Handled.Count >= 3, TimeSpan.FromSeconds(30), "three deliveries");
        await Task.Delay(500);
        Assert.Equal(["github.push", "order.created", "stripe.invoice.paid"], receiver.Handled.Select(h => h.EventType).Order(StringComparer.Ordinal));
        var delivered = receiver.Requests.Select(r => Encoding.UTF8.GetString(r.Body)).ToList();
        Assert.Contains(delivered, body => body.EndsWith("\"data\":" + push + "}", StringComparison.Ordinal));
        Assert.Contains(delivered, body => body.EndsWith("\"data\":" + invoice + "}", StringComparison.Ordinal));
        Assert.Contains(delivered, body => body.EndsWith("\"data\":" + order + "}", StringComparison.Ordinal));

        // The log says what came in and what became of it, newest first.
        var log = await client.ListSourceEventsAsync(app.Id, github.Id);
        Assert.Equal([SourceEventOutcomes.Refused, SourceEventOutcomes.Duplicate, SourceEventOutcomes.Published], log.Data.Select(e => e.Outcome));
        Assert.Equal((401, pushMessage), (log.Data[0].Status, log.Data[1].MessageId));
        Assert.Contains("does not match", log.Data[0].Reason, StringComparison.Ordinal);
        Assert.NotNull(log.Data[0].Preview);
        var refused = await client.ListSourceEventsAsync(app.Id, stripe.Id, outcome: SourceEventOutcomes.Refused);
        Assert.Equal(400, Assert.Single(refused.Data).Status);
    }

    [Fact]
    public async Task A_rotated_secret_and_the_previous_one_both_verify_during_the_overlap()
    {
        var client = await fixture.Stack.AdminClientAsync();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Rotation"));
        var first = "whsec_first_" + Guid.NewGuid().ToString("N");
        var stripe = await client.CreateSourceAsync(app.Id, new SourceIn("Stripe", SourceTypes.Stripe, first));
        var second = "whsec_second_" + Guid.NewGuid().ToString("N");
        var rotated = await client.RotateSourceSecretAsync(app.Id, stripe.Id, new RotateSourceSecretIn(second));
        Assert.Equal((second, first), (rotated.Secret, rotated.PreviousSecret));

        foreach (var secret in new[] { first, second })
        {
            var body = StripeEvent("customer.subscription.trial_will_end");
            var (status, answer, _) = await IngestAsync(stripe.IngestUrl, body, await SignAsync(body, "stripe", secret));
            Assert.True(status == HttpStatusCode.OK, answer.ToString());
            Assert.Equal("stripe.customer.subscription.trial_will_end", answer.GetProperty("eventType").GetString());
        }
        var other = StripeEvent("invoice.paid");
        Assert.Equal(HttpStatusCode.Unauthorized, (await IngestAsync(stripe.IngestUrl, other, await SignAsync(other, "stripe", "whsec_someone_else"))).Status);

        // A Stripe source has no secret to generate: a rotation must name the new one.
        var missing = await Assert.ThrowsAsync<ValidationApiException>(() => client.RotateSourceSecretAsync(app.Id, stripe.Id, new RotateSourceSecretIn()));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(2, (await client.ListMessagesAsync(app.Id)).Data.Count);
    }

    [Fact]
    public async Task Malformed_signatures_bodies_types_and_sizes_are_clear_4xx_that_publish_nothing_and_are_logged()
    {
        var client = await fixture.Stack.AdminClientAsync();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Hostile senders"));
        var github = await client.CreateSourceAsync(app.Id, new SourceIn("GitHub", SourceTypes.GitHub));
        var stripe = await client.CreateSourceAsync(app.Id, new SourceIn("Stripe", SourceTypes.Stripe, "whsec_hostile"));
        var partner = await client.CreateSourceAsync(app.Id, new SourceIn("Partner", SourceTypes.StandardWebhooks));
        const string body = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
        var sha = (await SignAsync(body, "github", github.Secret))["X-Hub-Signature-256"];
        var hex = sha["sha256=".Length..];
        var delivery = Guid.NewGuid().ToString();
        Dictionary<string, string> GitHub(string signature, string? eventName = "push") => eventName is null
            ? new() { ["X-Hub-Signature-256"] = signature, ["X-GitHub-Delivery"] = delivery }
            : new() { ["X-Hub-Signature-256"] = signature, ["X-GitHub-Delivery"] = delivery, ["X-GitHub-Event"] = eventName };
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        (string Url, string Body, Dictionary<string, string> Headers, string ContentType, HttpStatusCode Expected, string Says)[] cases =
        [
            (github.IngestUrl, body, new() { ["X-GitHub-Delivery"] = delivery, ["X-GitHub-Event"] = "push" }, "application/json", HttpStatusCode.Unauthorized, "missing"),
            (github.IngestUrl, body, GitHub(hex), "application/json", HttpStatusCode.Unauthorized, "sha256="),
            (github.IngestUrl, body, GitHub("sha256=" + hex[..40]), "application/json", HttpStatusCode.Unauthorized, "64 hex"),
            (github.IngestUrl, body, GitHub("sha256=" + new string('z', 64)), "application/json", HttpStatusCode.Unauthorized, "64 hex"),
            (github.IngestUrl, body, GitHub("sha1=" + hex), "application/json", HttpStatusCode.Unauthorized, "sha256="),
            (github.IngestUrl, body, GitHub(sha, eventName: null), "application/json", HttpStatusCode.BadRequest, "X-GitHub-Event"),
            (github.IngestUrl, body, GitHub(sha, eventName: "push/../x"), "application/json", HttpStatusCode.BadRequest, "not a valid event type"),
            (github.IngestUrl, body, GitHub(sha), "text/plain", HttpStatusCode.UnsupportedMediaType, "application/json"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = $"t={now},t={now},v1={hex}" }, "application/json", HttpStatusCode.Unauthorized, "more than once"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = $"t={now},v1=" }, "application/json", HttpStatusCode.Unauthorized, "no 'v1'"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = $"v1={hex}" }, "application/json", HttpStatusCode.Unauthorized, "'t' is missing"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = $"t=-5,v1={hex}" }, "application/json", HttpStatusCode.Unauthorized, "Unix seconds"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = "garbage" }, "application/json", HttpStatusCode.Unauthorized, "'t' is missing"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = $"t={now},v1={hex}" }, "application/json", HttpStatusCode.Unauthorized, "matches"),
            (stripe.IngestUrl, body, new() { ["Stripe-Signature"] = new string('a', 16_000) }, "application/json", HttpStatusCode.Unauthorized, "'t' is missing"),
            (partner.IngestUrl, body, new() { ["webhook-id"] = "m1", ["webhook-timestamp"] = $"{now}" }, "application/json", HttpStatusCode.Unauthorized, "required"),
            (partner.IngestUrl, body, new() { ["webhook-id"] = "m1", ["webhook-timestamp"] = "soon", ["webhook-signature"] = "v1,abc" }, "application/json",
                HttpStatusCode.BadRequest, "webhook-timestamp"),
            (partner.IngestUrl, body, new() { ["webhook-id"] = "m1", ["webhook-timestamp"] = $"{now}", ["webhook-signature"] = "v1,abc" }, "application/json",
                HttpStatusCode.Unauthorized, "matches"),
        ];
        foreach (var (url, content, headers, contentType, expected, says) in cases)
        {
            var (status, answer, _) = await IngestAsync(url, content, headers, contentType);
            var detail = answer.ValueKind == JsonValueKind.Object ? answer.GetProperty("detail").GetString() : "";
            Assert.True(status == expected && detail!.Contains(says, StringComparison.Ordinal),
                $"{string.Join(", ", headers.Select(h => $"{h.Key}: {h.Value[..Math.Min(40, h.Value.Length)]}"))} [{contentType}]: {(int)status} {detail}");
        }

        // Signed but not something to publish: not JSON, not an object, no 'type', a 'type' that is no event type name, NUL escapes.
        foreach (var (content, says) in new[] { ("not json", "not JSON"), ("[1,2]", "JSON object"), ("{\"id\":\"evt_2\"}", "no 'type'"),
                     ("{\"id\":\"evt_3\",\"type\":\"a b\"}", "not a valid event type"), ("{\"id\":\"evt_4\",\"type\":\"x\",\"n\":\"\\u0000\"}", "\\u0000"),
                     ("{\"type\":\"x\"}", "'id'") })
        {
            var (status, answer, _) = await IngestAsync(stripe.IngestUrl, content, await SignAsync(content, "stripe", "whsec_hostile"));
            Assert.True(status == HttpStatusCode.BadRequest && answer.GetProperty("detail").GetString()!.Contains(says, StringComparison.Ordinal),
                $"{content}: {(int)status} {answer}");
        }
        // Invalid UTF-8, signed.
        using (var http = new HttpClient())
        {
            var bytes = new byte[] { (byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}' };
            using var request = new HttpRequestMessage(HttpMethod.Post, partner.IngestUrl) { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            request.Headers.Add("webhook-id", "m-utf8");
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", SignatureScheme.Sign(WebhookSecret.Parse(partner.Secret), "m-utf8", timestamp, bytes));
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("UTF-8", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Over the body limit: 413, before any signature is computed.
        var huge = "{\"type\":\"x\",\"pad\":\"" + new string('a', 1024 * 1024 + 10) + "\"}";
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await IngestAsync(partner.IngestUrl, huge, new Dictionary<string, string>())).Status);
        // Unknown tokens, of the right shape and not: 404, nothing else said.
        var baseUrl = github.IngestUrl[..github.IngestUrl.LastIndexOf('/')];
        Assert.Equal(HttpStatusCode.NotFound, (await IngestAsync(baseUrl + "/" + new string('A', 43), body, new Dictionary<string, string>())).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await IngestAsync(baseUrl + "/%00", body, new Dictionary<string, string>())).Status);

        Assert.Empty((await client.ListMessagesAsync(app.Id)).Data);
        var githubLog = await client.ListSourceEventsAsync(app.Id, github.Id);
        Assert.Equal(8, githubLog.Data.Count);
        Assert.All(githubLog.Data, e => Assert.Equal(SourceEventOutcomes.Refused, e.Outcome));
        Assert.All(githubLog.Data, e => Assert.Equal(delivery, e.DeliveryId));
        Assert.Contains((await client.ListSourceEventsAsync(app.Id, partner.Id)).Data, e => e.Status == 413);
    }

    [Fact]
    public async Task A_flood_of_forged_requests_is_turned_away_without_using_up_the_senders_own_rate_and_is_logged_folded()
    {
        var client = await fixture.Stack.AdminClientAsync();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Flooded"));
        var source = await client.CreateSourceAsync(app.Id, new SourceIn("Slow", SourceTypes.GitHub, RateLimitPerSecond: 1));
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? throttled = null;
        for (var i = 0; i < 40; i++)
        {
            var (status, _, response) = await IngestAsync(source.IngestUrl, "{}", new Dictionary<string, string>());
            statuses.Add(status);
            throttled ??= status == HttpStatusCode.TooManyRequests ? response : null;
        }
        // The flood gate (ten times the rate, bursts of twice that) reads and refuses the first ones (401), and turns the rest away.
        Assert.Contains(HttpStatusCode.Unauthorized, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 10, string.Join(", ", statuses));
        Assert.Equal("1", throttled!.Headers.GetValues("Retry-After").Single());

        // None of that used the sender's own rate (1/s, bursts of 2): once the gate has refilled, two of its events go through.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var published = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            const string push = "{\"ref\":\"refs/heads/main\"}";
            var headers = await SignAsync(push, "github", source.Secret);
            headers["X-GitHub-Event"] = "push";
            headers["X-GitHub-Delivery"] = Guid.NewGuid().ToString();
            published.Add((await IngestAsync(source.IngestUrl, push, headers)).Status);
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], published.Take(2));

        // Logged one by one for the first few of each second, then folded with a count: fewer rows than requests.
        var log = await client.ListSourceEventsAsync(app.Id, source.Id, limit: 250);
        Assert.True(log.Data.Count < 30, $"{log.Data.Count} log entries for 43 requests");
        Assert.Contains(log.Data, e => e.Reason!.Contains("since the last entry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Concurrent_repeats_of_one_delivery_publish_once_and_a_rotated_ingest_url_replaces_the_old_one()
    {
        var client = await fixture.Stack.AdminClientAsync();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Races"));
        var source = await client.CreateSourceAsync(app.Id, new SourceIn("Partner", SourceTypes.StandardWebhooks));
        const string order = "{\"type\":\"order.created\",\"data\":{\"id\":1}}";
        var headers = await SignAsync(order, "standard", source.Secret, "msg_" + Guid.NewGuid().ToString("N"));
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => IngestAsync(source.IngestUrl, order, headers)));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Single(answers, a => !a.Body.GetProperty("duplicate").GetBoolean());
        Assert.Single(answers.Select(a => a.Body.GetProperty("messageId").GetString()).Distinct());
        Assert.Single((await client.ListMessagesAsync(app.Id)).Data);

        // An archived event type takes nothing in, as it takes no publish: 422, logged, nothing published.
        await client.CreateEventTypeAsync(app.Id, new EventTypeIn("order.cancelled"));
        await client.ArchiveEventTypeAsync(app.Id, "order.cancelled");
        const string cancelled = "{\"type\":\"order.cancelled\",\"data\":{\"id\":1}}";
        var (status, answer, _) = await IngestAsync(source.IngestUrl, cancelled, await SignAsync(cancelled, "standard", source.Secret, "msg_" + Guid.NewGuid().ToString("N")));
        Assert.True(status == HttpStatusCode.UnprocessableEntity, answer.ToString());
        Assert.Contains("archived", answer.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var rotated = await client.RotateSourceIngestUrlAsync(app.Id, source.Id);
        Assert.NotEqual(source.IngestUrl, rotated.IngestUrl);
        var again = await SignAsync(order, "standard", source.Secret, "msg_" + Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.NotFound, (await IngestAsync(source.IngestUrl, order, again)).Status);
        Assert.Equal(HttpStatusCode.OK, (await IngestAsync(rotated.IngestUrl, order, again)).Status);
        Assert.Equal(2, (await client.ListMessagesAsync(app.Id)).Data.Count);
    }

    [Fact]
    public async Task Sources_are_managed_per_application_and_a_deleted_one_stops_taking_webhooks()
    {
        var admin = await fixture.Stack.AdminClientAsync();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Owner"));
        var other = await admin.CreateApplicationAsync(new ApplicationIn("Other"));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("other's key", other.Id));
        var source = await admin.CreateSourceAsync(app.Id, new SourceIn("GitHub", SourceTypes.GitHub, RateLimitPerSecond: 50));
        Assert.Equal(64, source.Secret.Length);

        // Another application's key sees none of it.
        var stranger = (await fixture.Stack.ApiAsync()).Client(key.Key);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAnyAsync<ApiException>(() => stranger.GetSourceAsync(app.Id, source.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAnyAsync<ApiException>(() => stranger.GetSourceAsync(other.Id, source.Id))).StatusCode);

        // Bad input: unknown type, missing Stripe secret, a Standard Webhooks secret that is not one, rate out of range.
        foreach (var bad in new[] { new SourceIn("x", "shopify"), new SourceIn("x", SourceTypes.Stripe), new SourceIn("x", SourceTypes.StandardWebhooks, "hunter2"),
                     new SourceIn("x", SourceTypes.GitHub, RateLimitPerSecond: 0), new SourceIn("", SourceTypes.GitHub), new SourceIn("a\u0001b", SourceTypes.GitHub) })
        {
            var refused = await Assert.ThrowsAsync<ValidationApiException>(() => admin.CreateSourceAsync(app.Id, bad));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        var updated = await admin.UpdateSourceAsync(app.Id, source.Id, new SourceUpdateIn("GitHub (org)", 200));
        Assert.Equal(("GitHub (org)", 200, source.IngestUrl), (updated.Name, updated.RateLimitPerSecond, updated.IngestUrl));
        Assert.Equal(source.Id, Assert.Single((await admin.ListSourcesAsync(app.Id)).Data).Id);
        Assert.Equal(source.Secret, (await admin.GetSourceSecretAsync(app.Id, source.Id)).Secret);

        await admin.DeleteSourceAsync(app.Id, source.Id);
        Assert.Equal(HttpStatusCode.NotFound, (await IngestAsync(source.IngestUrl, "{}", new Dictionary<string, string>())).Status);
        Assert.Empty((await admin.ListSourcesAsync(app.Id)).Data);
    }

    [Fact]
    public async Task A_github_webhook_set_to_the_form_content_type_is_verified_on_the_form_and_publishes_its_payload_field()
    {
        var client = await fixture.Stack.AdminClientAsync();
        var app = await client.CreateApplicationAsync(new ApplicationIn("Form"));
        var github = await client.CreateSourceAsync(app.Id, new SourceIn("GitHub", SourceTypes.GitHub));
        const string payload = "{\"zen\":\"Keep it logically awesome.\", \"hook_id\":1,\"note\":\"café & 100%\"}";
        var form = "payload=" + Uri.EscapeDataString(payload);
        var headers = await SignAsync(form, "github", github.Secret);
        headers["X-GitHub-Event"] = "ping";
        headers["X-GitHub-Delivery"] = Guid.NewGuid().ToString();
        var (status, answer, _) = await IngestAsync(github.IngestUrl, form, headers, "application/x-www-form-urlencoded");
        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.Equal("github.ping", answer.GetProperty("eventType").GetString());
        var message = Assert.Single((await client.ListMessagesAsync(app.Id)).Data);
        Assert.Equal("Keep it logically awesome.", message.Payload.GetProperty("zen").GetString());
        Assert.Equal("café & 100%", message.Payload.GetProperty("note").GetString());

        // A form without its payload field, signed: 400, nothing published.
        var empty = "other=1";
        var emptyHeaders = await SignAsync(empty, "github", github.Secret);
        emptyHeaders["X-GitHub-Event"] = "ping";
        emptyHeaders["X-GitHub-Delivery"] = Guid.NewGuid().ToString();
        (status, answer, _) = await IngestAsync(github.IngestUrl, empty, emptyHeaders, "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'payload'", answer.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Single((await client.ListMessagesAsync(app.Id)).Data);
    }
}
