using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

/// <summary>A person at the dashboard, in headless Chromium, against the real API, worker, Postgres and Redis.</summary>
[Collection(StackFixture.Collection)]
public sealed partial class DashboardTests(StackFixture fixture, BrowserFixture browser)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>A loopback receiver that verifies with the secret the dashboard showed, or fails on demand with a body.</summary>
    private sealed class Receiver
    {
        public string? Secret { get; set; }
        public bool Failing { get; set; }
        public int Verified { get; private set; }

        public Task<int?> RespondAsync(ReceivedRequest request)
        {
            if (Failing)
            {
                return Task.FromResult<int?>(500);
            }
            var valid = Secret is not null && SignatureScheme.Verify([WebhookSecret.Parse(Secret)], request.Headers.GetValueOrDefault("webhook-id"),
                request.Headers.GetValueOrDefault("webhook-timestamp"), request.Headers.GetValueOrDefault("webhook-signature"), request.Body,
                DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)) == VerificationResult.Valid;
            Verified += valid ? 1 : 0;
            return Task.FromResult<int?>(valid ? 200 : 401);
        }
    }

    private async Task<IPage> SignedInAsync(string key, bool javaScript = true)
    {
        var api = await fixture.Stack.ApiAsync();
        var page = await browser.NewPageAsync(javaScript);
        await page.GotoAsync(new Uri(api.Url, "/dashboard/signin").ToString());
        await page.FillAsync("#key", key);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(new Regex("/dashboard$"));
        return page;
    }

    [Fact]
    public async Task A_person_creates_an_endpoint_tests_it_sees_a_failure_and_resends()
    {
        var api = await fixture.Stack.ApiAsync();
        await fixture.Stack.WorkerAsync();
        var receiver = new Receiver();
        await using var loopback = await TestReceiver.StartAsync(WebhookSecret.Generate().ToString());
        loopback.Respond = receiver.RespondAsync;

        // An unauthenticated visit lands on sign-in, and comes back after it.
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(api.Url, "/dashboard/apps").ToString());
        Assert.Matches("/dashboard/signin\\?ReturnUrl=%2Fdashboard%2Fapps", page.Url);
        await BrowserFixture.ScreenshotAsync(page, "01-sign-in");
        await page.FillAsync("#key", "wh_wrong_key");
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("unknown or revoked");
        await page.FillAsync("#key", fixture.Stack.AdminApiKey);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(new Regex("/dashboard/apps$"));
        await BrowserFixture.ScreenshotAsync(page, "03-applications");

        // An application, with an event type whose schema carries an example.
        var name = "Browser Co " + Guid.NewGuid().ToString("N")[..6];
        await page.FillAsync("#name", name);
        await page.ClickAsync("text=Create application");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync(name);
        var appId = AppIdOf(page.Url);
        await page.ClickAsync("text=Event types");
        await page.FillAsync("#name", "invoice.paid");
        await page.FillAsync("#description", "An invoice was paid.");
        await page.FillAsync("#schema", """{"type":"object","required":["invoice"],"examples":[{"invoice":"in_42","amount":1999}]}""");
        await page.ClickAsync("text=Create event type");
        await Assertions.Expect(page.Locator("[data-testid=event-types]")).ToContainTextAsync("invoice.paid");
        await BrowserFixture.ScreenshotAsync(page, "05-event-types");

        // An endpoint at the loopback receiver; its secret is shown once.
        await page.ClickAsync($"a[href='/dashboard/apps/{appId}']");
        await page.FillAsync("#url", loopback.WebhookUrl.ToString());
        await page.FillAsync("#eventTypes", "invoice.paid");
        await page.ClickAsync("text=Create endpoint");
        receiver.Secret = (await page.Locator("[data-testid=created-secret] .secret").TextContentAsync())!.Trim();
        Assert.StartsWith("whsec_", receiver.Secret, StringComparison.Ordinal);
        await BrowserFixture.ScreenshotAsync(page, "04-application");

        // A test event: signed with that secret, delivered, and its attempt shown.
        await page.ClickAsync("text=Open the endpoint");
        await page.ClickAsync("text=Send test event");
        await Assertions.Expect(page.Locator("[data-testid=test-result]")).ToContainTextAsync("succeeded", new() { Timeout = 30_000 });
        Assert.Equal(1, receiver.Verified);
        Assert.Contains("in_42", System.Text.Encoding.UTF8.GetString(loopback.Requests.Last().Body), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=attempts] tbody tr")).ToHaveCountAsync(1);
        await BrowserFixture.ScreenshotAsync(page, "06-endpoint");

        // The receiver fails: the failure and its response body are shown.
        receiver.Failing = true;
        loopback.ResponseBody = "upstream ledger unavailable";
        await page.ClickAsync("text=Send test event");
        var result = page.Locator("[data-testid=test-result]");
        await Assertions.Expect(result).ToContainTextAsync("failed", new() { Timeout = 30_000 });
        await Assertions.Expect(result).ToContainTextAsync("500");
        await Assertions.Expect(result).ToContainTextAsync("upstream ledger unavailable");

        // On the message: every attempt with its response; resend once the receiver is fixed.
        await result.Locator("a").ClickAsync();
        var delivery = page.Locator("[data-testid=delivery]");
        await delivery.Locator("summary").First.ClickAsync();
        await Assertions.Expect(delivery.Locator("[data-testid=response-body]").First).ToHaveTextAsync("upstream ledger unavailable");
        await BrowserFixture.ScreenshotAsync(page, "07-message-failed");
        receiver.Failing = false;
        await page.ClickAsync("text=Resend");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Queued to be sent again");
        await Eventually.HoldsAsync(async () =>
        {
            await page.ReloadAsync();
            return await page.Locator("[data-testid=delivery] [data-testid=status]").TextContentAsync() == "succeeded";
        }, Patience, "the resent delivery succeeds");
        await Assertions.Expect(page.Locator("[data-testid=attempt]").Last).ToContainTextAsync("manual");
        Assert.Equal(2, receiver.Verified);
        await BrowserFixture.ScreenshotAsync(page, "08-message-resent");

        // Messages, filtered by event type.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{appId}/messages").ToString());
        await page.FillAsync("#eventType", "invoice.paid");
        await page.ClickAsync("text=Filter");
        await Assertions.Expect(page.Locator("[data-testid=messages] tbody tr")).ToHaveCountAsync(2);
        await page.FillAsync("#eventType", "nothing.like.this");
        await page.ClickAsync("text=Filter");
        await Assertions.Expect(page.Locator("[data-testid=messages]")).ToContainTextAsync("No messages match");
        // By time: everything is older than an hour from now, and newer than an hour ago.
        await page.FillAsync("#eventType", "");
        await page.FillAsync("#since", DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("text=Filter");
        await Assertions.Expect(page.Locator("[data-testid=messages]")).ToContainTextAsync("No messages match");
        await page.FillAsync("#since", DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.FillAsync("#until", DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("text=Filter");
        await Assertions.Expect(page.Locator("[data-testid=messages] tbody tr")).ToHaveCountAsync(2);
        await BrowserFixture.ScreenshotAsync(page, "09-messages");

        // The overview counts what happened.
        await page.ClickAsync("header >> text=Overview");
        await Assertions.Expect(page.Locator("[data-testid=succeeded]")).Not.ToHaveTextAsync("0");
        await BrowserFixture.ScreenshotAsync(page, "02-overview");
    }

    [Fact]
    public async Task Pages_read_without_javascript_forms_need_their_token_and_keys_see_only_their_application()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("mine " + Guid.NewGuid().ToString("N")[..6]));
        var theirs = await admin.CreateApplicationAsync(new ApplicationIn("theirs " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(mine.Id, new EndpointIn("https://example.com/hook"));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("dashboard", mine.Id));

        var page = await SignedInAsync(key.Key, javaScript: false);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Overview");
        await page.ClickAsync("header >> text=Applications");
        await Assertions.Expect(page.Locator("[data-testid=apps] tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=apps]")).ToContainTextAsync(mine.Name);
        Assert.Equal(0, await page.Locator("text=New application").CountAsync());
        await page.ClickAsync($"text={mine.Name}");
        await Assertions.Expect(page.Locator("[data-testid=endpoints]")).ToContainTextAsync("https://example.com/hook");

        // Another application's pages are not found for this key.
        var response = await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{theirs.Id}").ToString());
        Assert.Equal(404, response!.Status);

        // A form posted without its antiforgery token is refused, and changes nothing.
        var forged = await page.Context.APIRequest.PostAsync(new Uri(api.Url, $"/dashboard/apps/{mine.Id}/endpoints/{endpoint.Id}?handler=Disable").ToString(),
            new APIRequestContextOptions { Form = page.Context.APIRequest.CreateFormData() });
        Assert.Equal(400, forged.Status);
        Assert.False((await admin.GetEndpointAsync(mine.Id, endpoint.Id)).Disabled);

        // With its token (the page's own form, no script needed) it works.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{mine.Id}/endpoints/{endpoint.Id}").ToString());
        await page.ClickAsync("button:text('Disable')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint disabled");
        Assert.True((await admin.GetEndpointAsync(mine.Id, endpoint.Id)).Disabled);

        // Revoking the key ends the session at the next request.
        await admin.RevokeApiKeyAsync(key.Id);
        await page.GotoAsync(new Uri(api.Url, "/dashboard").ToString());
        Assert.Contains("/dashboard/signin", page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_and_its_forms_hold_on_another_api_instance()
    {
        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        // The data protection keys live in Postgres: a second instance (or the first, restarted) reads the cookie,
        // even with a home folder of its own (where ASP.NET Core would otherwise keep keys of its own).
        var home = Directory.CreateTempSubdirectory("webhooks-home-");
        await using var other = await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["HOME"] = home.FullName });
        await page.GotoAsync(new Uri(other.Url, "/dashboard/apps").ToString());
        Assert.EndsWith("/dashboard/apps", page.Url, StringComparison.Ordinal);
        var name = "elsewhere " + Guid.NewGuid().ToString("N")[..6];
        await page.FillAsync("#name", name);
        await page.ClickAsync("text=Create application");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync(name);
    }

    [Fact]
    public async Task An_attempts_trace_id_is_shown_and_linked_through_the_configured_trace_url_template()
    {
        await fixture.Stack.WorkerAsync();
        var admin = await fixture.Stack.AdminClientAsync();
        var secret = WebhookSecret.Generate().ToString();
        await using var loopback = await TestReceiver.StartAsync(secret);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("traced " + Guid.NewGuid().ToString("N")[..6]));
        await admin.CreateEndpointAsync(app.Id, new EndpointIn(loopback.WebhookUrl.ToString(), Secret: secret));
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var api = await fixture.Stack.ApiAsync();
        using var http = api.Http();
        using var publish = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app.Id}/messages")
        {
            Content = new StringContent("""{"eventType":"order.created","payload":{"n":1}}""", System.Text.Encoding.UTF8, "application/json"),
        };
        publish.Headers.Add("traceparent", $"00-{traceId}-{traceId[..16]}-01");
        using var published = await http.SendAsync(publish);
        var messageId = System.Text.Json.JsonDocument.Parse(await published.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        await Eventually.HoldsAsync(async () => (await admin.ListAttemptsAsync(app.Id, messageId!)).Data.Count > 0, Patience, "the attempt is recorded");

        // Without a template the trace id is shown, not linked.
        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/messages/{messageId}").ToString());
        await Assertions.Expect(page.Locator("[data-testid=attempt] [data-testid=trace]")).ToHaveTextAsync(traceId);
        Assert.Equal(0, await page.Locator("[data-testid=attempt] a[data-testid=trace]").CountAsync());

        // With one, it links to the trace viewer's page for that trace.
        await using var linked = await fixture.Stack.StartApiAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Dashboard__TraceUrlTemplate"] = "http://localhost:18888/traces/detail/{traceId}",
        });
        await page.GotoAsync(new Uri(linked.Url, $"/dashboard/apps/{app.Id}/messages/{messageId}").ToString());
        await Assertions.Expect(page.Locator("[data-testid=attempt] a[data-testid=trace]"))
            .ToHaveAttributeAsync("href", $"http://localhost:18888/traces/detail/{traceId}");
        await BrowserFixture.ScreenshotAsync(page, "10-message-trace");
    }

    private static string AppIdOf(string url) => AppId().Match(url).Groups[1].Value;

    [GeneratedRegex("/dashboard/apps/(app_[0-9A-Z]+)")]
    private static partial Regex AppId();
}
