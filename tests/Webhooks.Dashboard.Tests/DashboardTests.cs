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
        // The event type is chosen from the application's own, not typed.
        await page.SelectOptionAsync("#eventType", "invoice.paid");
        await page.ClickAsync("button:text('Filter')");
        await Assertions.Expect(page.Locator("[data-testid=messages] tbody tr")).ToHaveCountAsync(2);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{appId}/messages?eventType=nothing.like.this").ToString());
        await Assertions.Expect(page.Locator("[data-testid=messages]")).ToContainTextAsync("No messages match");
        // By time: everything is older than an hour from now, and newer than an hour ago.
        await page.SelectOptionAsync("#eventType", "");
        await page.SelectOptionAsync("#range", "custom");
        await page.FillAsync("#since", DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("button:text('Filter')");
        await Assertions.Expect(page.Locator("[data-testid=messages]")).ToContainTextAsync("No messages match");
        await page.FillAsync("#since", DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.FillAsync("#until", DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("button:text('Filter')");
        await Assertions.Expect(page.Locator("[data-testid=messages] tbody tr")).ToHaveCountAsync(2);
        await BrowserFixture.ScreenshotAsync(page, "09-messages");

        // The overview counts what happened: for a key of this application, its two deliveries that succeeded (the
        // first test event, and the failed one once resent), whatever other tests do on the shared stack.
        var appKey = await api.Client().CreateApiKeyAsync(new ApiKeyIn("overview", appId));
        var overview = await SignedInAsync(appKey.Key);
        await Assertions.Expect(overview.Locator("[data-testid=succeeded]")).ToHaveTextAsync("2");
        await BrowserFixture.ScreenshotAsync(overview, "02-overview");
    }

    [Fact]
    public async Task Endpoint_authentication_is_set_kept_and_cleared_from_the_settings_form_and_its_secret_never_shown()
    {
        var api = await fixture.Stack.ApiAsync();
        await fixture.Stack.WorkerAsync();
        var admin = api.Client();
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var expected = "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"acme:{password}"));
        await using var loopback = await TestReceiver.StartAsync(WebhookSecret.Generate().ToString());
        loopback.Respond = r => Task.FromResult<int?>(r.Headers.GetValueOrDefault("authorization") == expected ? 200 : 401);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("auth form " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn(loopback.WebhookUrl.ToString()));

        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());
        await page.SelectOptionAsync("#authType", "basic");
        await page.FillAsync("#authUsername", "acme");
        await page.FillAsync("#authPassword", password);
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        Assert.Equal(new EndpointAuthOut("basic", Username: "acme"), (await admin.GetEndpointAsync(app.Id, endpoint.Id)).Auth);
        await Assertions.Expect(page.Locator("#authUsername")).ToHaveValueAsync("acme");
        Assert.DoesNotContain(password, await page.ContentAsync(), StringComparison.Ordinal);

        // Saved again with the password left empty: kept, and the receiver still accepts.
        await page.FillAsync("#description", "still basic");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        await page.ClickAsync("text=Send test event");
        await Assertions.Expect(page.Locator("[data-testid=test-result]")).ToContainTextAsync("succeeded", new() { Timeout = 30_000 });
        Assert.Equal(expected, loopback.Requests.Last().Headers["authorization"]);
        Assert.DoesNotContain(password, await page.ContentAsync(), StringComparison.Ordinal);

        // A wrong shape is shown as an error and changes nothing.
        await page.SelectOptionAsync("#authType", "header");
        await page.FillAsync("#authHeaderName", "webhook-signature");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("a header name (a token) that is not reserved");
        Assert.Equal("basic", (await admin.GetEndpointAsync(app.Id, endpoint.Id)).Auth!.Type);

        // None clears it.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());
        await page.SelectOptionAsync("#authType", "none");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        Assert.Null((await admin.GetEndpointAsync(app.Id, endpoint.Id)).Auth);
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
        // Disabling asks first: the button is behind a confirmation that says what it does.
        await page.ClickAsync("summary:text('Disable…')");
        await page.ClickAsync("button:text('Disable the endpoint')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint disabled");
        Assert.True((await admin.GetEndpointAsync(mine.Id, endpoint.Id)).Disabled);

        // Revoking the key ends the session at the next request.
        await admin.RevokeApiKeyAsync(key.Id);
        await page.GotoAsync(new Uri(api.Url, "/dashboard").ToString());
        Assert.Contains("/dashboard/signin", page.Url, StringComparison.Ordinal);
    }

    /// <summary>Every form of the dashboard: a POST to its handler, with the fields it sends.</summary>
    private static IEnumerable<(string Name, string Path, Dictionary<string, string> Fields)> Forms(string appId, string endpointId, string disabledEndpointId, string messageId) =>
    [
        ("create application", "/dashboard/apps", new() { ["name"] = "forged app" }),
        ("create endpoint", $"/dashboard/apps/{appId}", new() { ["url"] = "https://example.com/forged" }),
        ("resend", $"/dashboard/apps/{appId}/messages/{messageId}?handler=Resend", new() { ["endpointId"] = disabledEndpointId }),
        ("create event type", $"/dashboard/apps/{appId}/event-types?handler=Create", new() { ["name"] = "forged.type" }),
        ("archive event type", $"/dashboard/apps/{appId}/event-types?handler=Archive", new() { ["name"] = "forms.kept" }),
        ("enable endpoint", $"/dashboard/apps/{appId}/endpoints/{disabledEndpointId}?handler=Enable", new()),
        ("disable endpoint", $"/dashboard/apps/{appId}/endpoints/{endpointId}?handler=Disable", new()),
        ("rotate secret", $"/dashboard/apps/{appId}/endpoints/{endpointId}?handler=Rotate", new()),
        ("send test event", $"/dashboard/apps/{appId}/endpoints/{endpointId}?handler=Test", new() { ["testEventType"] = "forms.kept" }),
        ("recover", $"/dashboard/apps/{appId}/endpoints/{endpointId}?handler=Recover", new() { ["since"] = "2026-01-01T00:00" }),
        ("update endpoint", $"/dashboard/apps/{appId}/endpoints/{endpointId}?handler=Update", new() { ["url"] = "https://example.com/forged", ["timeoutSeconds"] = "5" }),
    ];

    /// <summary>An application with what every form acts on: an endpoint, a disabled one with a parked message, an event type.</summary>
    private async Task<(ApplicationOut App, EndpointCreated Endpoint, EndpointCreated Disabled, MessageOut Message)> FormTargetsAsync(IWebhooksApi admin, string name)
    {
        var app = await admin.CreateApplicationAsync(new ApplicationIn(name + " " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/forms", EventTypes: ["forms.kept"]));
        var disabled = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/parked", EventTypes: ["forms.parked"]));
        await admin.DisableEndpointAsync(app.Id, disabled.Id, new DisableEndpointIn("parked by the test"));
        var message = await admin.PublishAsync(app.Id, new MessageIn("forms.parked", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 1 })));
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("forms.kept"));
        return (app, endpoint, disabled, message);
    }

    /// <summary>Nothing any form would have done to <paramref name="app"/> happened.</summary>
    private async Task AssertUntouchedAsync(IWebhooksApi admin, ApplicationOut app, EndpointCreated endpoint, EndpointCreated disabled, MessageOut message)
    {
        Assert.Equal(2, (await admin.ListEndpointsAsync(app.Id)).Data.Count);
        var kept = await admin.GetEndpointAsync(app.Id, endpoint.Id);
        Assert.False(kept.Disabled);
        Assert.Equal("https://example.com/forms", kept.Url);
        Assert.Equal(endpoint.Secret, (await admin.GetEndpointSecretAsync(app.Id, endpoint.Id)).Key);
        Assert.True((await admin.GetEndpointAsync(app.Id, disabled.Id)).Disabled);
        Assert.Equal(["forms.kept"], (await admin.ListEventTypesAsync(app.Id)).Data.Select(t => t.Name));
        Assert.Equal([message.Id], (await admin.ListMessagesAsync(app.Id)).Data.Select(m => m.Id));
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var trigger = new Npgsql.NpgsqlCommand("SELECT trigger FROM deliveries WHERE message_id = @id", connection);
        trigger.Parameters.AddWithValue("id", message.Id);
        Assert.Equal("scheduled", (string?)await trigger.ExecuteScalarAsync());
    }

    private static async Task<IAPIResponse> PostAsync(IPage page, Uri api, string path, Dictionary<string, string> fields, string? token)
    {
        var form = page.Context.APIRequest.CreateFormData();
        foreach (var (name, value) in fields)
        {
            form.Set(name, value);
        }
        if (token is not null)
        {
            form.Set("__RequestVerificationToken", token);
        }
        return await page.Context.APIRequest.PostAsync(new Uri(api, path).ToString(), new APIRequestContextOptions { Form = form, MaxRedirects = 0 });
    }

    [Fact]
    public async Task Every_dashboard_form_carries_its_antiforgery_token_and_is_refused_without_it()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (app, endpoint, disabled, message) = await FormTargetsAsync(admin, "forms");
        var page = await SignedInAsync(fixture.Stack.AdminApiKey, javaScript: false);

        // Every form the pages show posts its token (the enable form shows on the disabled endpoint's page).
        var forms = 0;
        foreach (var path in new[] { "/dashboard", "/dashboard/apps", $"/dashboard/apps/{app.Id}", $"/dashboard/apps/{app.Id}/event-types",
                     $"/dashboard/apps/{app.Id}/messages/{message.Id}", $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}",
                     $"/dashboard/apps/{app.Id}/endpoints/{disabled.Id}" })
        {
            await page.GotoAsync(new Uri(api.Url, path).ToString());
            var posting = page.Locator("form[method=post]");
            forms += await posting.CountAsync();
            foreach (var form in await posting.AllAsync())
            {
                Assert.Equal(1, await form.Locator("input[name=__RequestVerificationToken]").CountAsync());
            }
        }
        Assert.True(forms >= 13, $"{forms} forms seen");

        // Posted without it, each is refused and changes nothing.
        foreach (var (name, path, fields) in Forms(app.Id, endpoint.Id, disabled.Id, message.Id))
        {
            var response = await PostAsync(page, api.Url, path, fields, token: null);
            Assert.True(response.Status == 400, $"{name}: answered {response.Status} without a token");
        }
        await AssertUntouchedAsync(admin, app, endpoint, disabled, message);

        // Signing out without it keeps the session; signing in without it starts none.
        Assert.Equal(400, (await PostAsync(page, api.Url, "/dashboard/signout", [], token: null)).Status);
        await page.GotoAsync(new Uri(api.Url, "/dashboard/apps").ToString());
        Assert.EndsWith("/dashboard/apps", page.Url, StringComparison.Ordinal);
        var anonymous = await browser.NewPageAsync(javaScript: false);
        Assert.Equal(400, (await PostAsync(anonymous, api.Url, "/dashboard/signin", new() { ["key"] = fixture.Stack.AdminApiKey }, token: null)).Status);
        await anonymous.GotoAsync(new Uri(api.Url, "/dashboard/apps").ToString());
        Assert.Contains("/dashboard/signin", anonymous.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_dashboard_page_and_action_of_another_application_is_not_found_for_a_key()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("mine " + Guid.NewGuid().ToString("N")[..6]));
        var (theirs, endpoint, disabled, message) = await FormTargetsAsync(admin, "theirs");
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("dashboard", mine.Id));
        var page = await SignedInAsync(key.Key, javaScript: false);
        // A valid token of this session, from one of its own pages.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{mine.Id}").ToString());
        var token = await page.Locator("form[method=post] input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");
        Assert.False(string.IsNullOrEmpty(token));

        foreach (var path in new[] { $"/dashboard/apps/{theirs.Id}", $"/dashboard/apps/{theirs.Id}/event-types", $"/dashboard/apps/{theirs.Id}/messages",
                     $"/dashboard/apps/{theirs.Id}/messages/{message.Id}", $"/dashboard/apps/{theirs.Id}/endpoints/{endpoint.Id}",
                     // Their message and endpoint named under my application.
                     $"/dashboard/apps/{mine.Id}/messages/{message.Id}", $"/dashboard/apps/{mine.Id}/endpoints/{endpoint.Id}" })
        {
            var response = await page.GotoAsync(new Uri(api.Url, path).ToString());
            Assert.True(response!.Status == 404, $"GET {path} answered {response.Status}");
        }
        foreach (var (name, path, fields) in Forms(theirs.Id, endpoint.Id, disabled.Id, message.Id).Where(f => f.Name != "create application"))
        {
            var response = await PostAsync(page, api.Url, path, fields, token);
            Assert.True(response.Status == 404, $"{name} ({path}) answered {response.Status}");
        }
        // Their endpoint under my application: not found. Their message resent under my application: no such delivery.
        foreach (var (name, path, fields) in Forms(mine.Id, endpoint.Id, disabled.Id, message.Id).Where(f => f.Path.Contains("/endpoints/", StringComparison.Ordinal)))
        {
            var response = await PostAsync(page, api.Url, path, fields, token);
            Assert.True(response.Status == 404, $"{name} ({path}) answered {response.Status}");
        }
        var resend = Forms(mine.Id, endpoint.Id, disabled.Id, message.Id).Single(f => f.Name == "resend");
        await PostAsync(page, api.Url, resend.Path, resend.Fields, token);
        await AssertUntouchedAsync(admin, theirs, endpoint, disabled, message);
        // The token itself was good: with it, this key's own application takes an action.
        var created = await PostAsync(page, api.Url, $"/dashboard/apps/{mine.Id}/event-types?handler=Create", new() { ["name"] = "mine.created" }, token);
        Assert.Equal(302, created.Status);
        Assert.Equal(["mine.created"], (await admin.ListEventTypesAsync(mine.Id)).Data.Select(t => t.Name));
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

    [Fact]
    public async Task An_endpoints_open_circuit_and_its_history_are_shown_and_enabling_closes_it()
    {
        await fixture.Stack.WorkerAsync();
        var admin = await fixture.Stack.AdminClientAsync();
        var secret = WebhookSecret.Generate().ToString();
        await using var loopback = await TestReceiver.StartAsync(secret);
        loopback.Respond = _ => Task.FromResult<int?>(503);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("circuit " + Guid.NewGuid().ToString("N")[..6]));
        // One failure opens this endpoint's circuit; the worker's default cool-down (30 s) keeps it open while the page is read.
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn(loopback.WebhookUrl.ToString(), Secret: secret, CircuitBreakerThreshold: 1, MaxInFlight: 8));
        await admin.PublishAsync(app.Id, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 1 })));
        await Eventually.HoldsAsync(async () => (await admin.GetEndpointAsync(app.Id, endpoint.Id)).CircuitState == CircuitStates.Open, Patience, "the circuit opens");

        var api = await fixture.Stack.ApiAsync();
        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());
        await Assertions.Expect(page.Locator("[data-testid=circuit]")).ToHaveTextAsync("open");
        await Assertions.Expect(page.Locator("[data-testid=circuit-note]")).ToContainTextAsync("deliveries wait, unattempted");
        await Assertions.Expect(page.Locator("[data-testid=history] tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=history]")).ToContainTextAsync("circuit opened");
        await Assertions.Expect(page.Locator("[data-testid=history]")).ToContainTextAsync("1 failed attempts in a row");
        await Assertions.Expect(page.Locator("#circuitBreakerThreshold")).ToHaveValueAsync("1");
        await Assertions.Expect(page.Locator("#maxInFlight")).ToHaveValueAsync("8");
        await BrowserFixture.ScreenshotAsync(page, "11-endpoint-circuit-open");

        // Enabling starts over: the circuit closes, and the history says why; the held delivery then goes.
        loopback.Respond = null;
        await page.ClickAsync("summary:text('Disable…')");
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable the endpoint", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Enable", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=circuit]")).ToHaveTextAsync("closed");
        await Assertions.Expect(page.Locator("[data-testid=history] tbody tr").First).ToContainTextAsync("the endpoint was enabled");
        await Eventually.HoldsAsync(() => loopback.Handled.Count == 1, Patience, "the held delivery is delivered");
        Assert.Equal(CircuitStates.Closed, (await admin.GetEndpointAsync(app.Id, endpoint.Id)).CircuitState);
    }

    private static string AppIdOf(string url) => AppId().Match(url).Groups[1].Value;

    [GeneratedRegex("/dashboard/apps/(app_[0-9A-Z]+)")]
    private static partial Regex AppId();
}
