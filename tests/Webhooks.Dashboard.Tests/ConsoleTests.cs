using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

/// <summary>An operator's questions answered in the console: what failed and why, and actions that ask first and never repeat on reload.</summary>
[Collection(StackFixture.Collection)]
public sealed class ConsoleTests(StackFixture fixture, BrowserFixture browser)
{
    private async Task<IPage> SignedInAsync()
    {
        var api = await fixture.Stack.ApiAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(api.Url, "/dashboard/signin").ToString());
        await page.FillAsync("#key", fixture.Stack.AdminApiKey);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(new Regex("/dashboard$"));
        return page;
    }

    [Fact]
    public async Task Rotating_asks_first_shows_the_secret_once_and_a_reload_rotates_nothing()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Rotation"));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/rotate"));
        var page = await SignedInAsync();
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());

        var rotate = page.GetByRole(AriaRole.Button, new() { Name = "Rotate the secret" });
        await Assertions.Expect(rotate).ToBeHiddenAsync();
        await page.ClickAsync("summary:text('Rotate secret…')");
        await Assertions.Expect(page.Locator("[data-testid=confirm-rotate]")).ToContainTextAsync("keeps signing");
        await rotate.ClickAsync();
        var shown = page.Locator("[data-testid=rotated-secret] .secret");
        await Assertions.Expect(shown).ToHaveTextAsync(new Regex("^whsec_"));
        var secret = await admin.GetEndpointSecretAsync(app.Id, endpoint.Id);
        Assert.Equal(secret.Key, await shown.TextContentAsync());
        Assert.Equal(endpoint.Secret, secret.PreviousKey);

        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("[data-testid=rotated-secret]")).ToHaveCountAsync(0);
        Assert.Equal(secret, await admin.GetEndpointSecretAsync(app.Id, endpoint.Id));

        // Revealed on request, once; the secret does not change.
        await page.ClickAsync("summary:text('Reveal secret…')");
        await page.ClickAsync("button:text('Show the secret')");
        await Assertions.Expect(page.Locator("[data-testid=revealed-secret] .secret")).ToHaveTextAsync(secret.Key);
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("[data-testid=revealed-secret]")).ToHaveCountAsync(0);
        Assert.Equal(secret, await admin.GetEndpointSecretAsync(app.Id, endpoint.Id));
    }

    [Fact]
    public async Task A_failing_message_is_found_by_status_and_endpoint_and_resent_from_its_page()
    {
        var api = await fixture.Stack.ApiAsync();
        await fixture.Stack.WorkerAsync();
        var admin = api.Client();
        var secret = Receiver.Sdk.WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret);
        receiver.Respond = _ => Task.FromResult<int?>(503);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Find failures"));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret, RetrySchedule: [0, 300]));
        var healthy = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/other", EventTypes: ["other.type"]));
        var failed = await admin.PublishAsync(app.Id, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 1 }),
            IdempotencyKey: "find-me-" + Guid.NewGuid().ToString("N")[..6]));
        await Eventually.HoldsAsync(async () => (await admin.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Failing))).Data.Count == 1,
            TimeSpan.FromSeconds(30), "the message is failing");
        Assert.Equal([failed.Id], (await admin.ListMessagesAsync(app.Id, new MessageQuery(EndpointId: endpoint.Id))).Data.Select(m => m.Id));
        Assert.Empty((await admin.ListMessagesAsync(app.Id, new MessageQuery(EndpointId: healthy.Id))).Data);
        Assert.Equal([failed.Id], (await admin.ListMessagesAsync(app.Id, new MessageQuery(Search: failed.IdempotencyKey))).Data.Select(m => m.Id));

        var page = await SignedInAsync();
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/messages").ToString());
        await Assertions.Expect(page.Locator("[data-testid=status-counts] [data-status=failing]")).ToHaveTextAsync("failing: 1");
        await page.SelectOptionAsync("#status", "failing");
        await page.SelectOptionAsync("#endpointId", endpoint.Id);
        await page.SelectOptionAsync("#range", "1h");
        await page.ClickAsync("button:text('Filter')");
        var rows = page.Locator("[data-testid=messages] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First.Locator("[data-testid=message-status]")).ToHaveTextAsync("failing");
        await BrowserFixture.ScreenshotAsync(page, "12-messages-failing");
        await rows.First.Locator("a").ClickAsync();

        receiver.Respond = null;
        await page.ClickAsync("text=Resend");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Queued to be sent again");
        await Eventually.HoldsAsync(() => !receiver.Handled.IsEmpty, TimeSpan.FromSeconds(30), "the resent message arrives");
        // A reload shows the result again, and sends nothing more.
        var handled = receiver.Handled.Count;
        await page.ReloadAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(handled, receiver.Handled.Count);

        // A bad search is a message on the page, not an error page.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/messages?status=nonsense").ToString());
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("'status' must be one of");
    }

    [Fact]
    public async Task Recovering_an_endpoint_since_an_hour_ago_sends_its_exhausted_messages_again()
    {
        var api = await fixture.Stack.ApiAsync();
        await fixture.Stack.WorkerAsync();
        var admin = api.Client();
        var secret = Receiver.Sdk.WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret);
        receiver.Respond = _ => Task.FromResult<int?>(500);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Recover"));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret, RetrySchedule: [0]));
        for (var i = 0; i < 3; i++)
        {
            await admin.PublishAsync(app.Id, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { n = i })));
        }
        await Eventually.HoldsAsync(async () => (await admin.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Exhausted))).Data.Count == 3,
            TimeSpan.FromSeconds(30), "the three messages are exhausted");

        receiver.Respond = null;
        var page = await SignedInAsync();
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());
        await page.FillAsync("#since", DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("button:text('Recover failed deliveries')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("3 failed or exhausted deliveries queued again");
        await Eventually.HoldsAsync(() => receiver.Handled.Count == 3, TimeSpan.FromSeconds(30), "the recovered messages arrive");
        await Eventually.HoldsAsync(async () => (await admin.ListMessagesAsync(app.Id, new MessageQuery(Status: MessageStatuses.Delivered))).Data.Count == 3,
            TimeSpan.FromSeconds(30), "the three messages are delivered");
    }

    [Fact]
    public async Task A_source_is_created_in_the_console_and_its_log_shows_what_was_published_and_what_was_refused()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Inbound console"));
        var page = await SignedInAsync();
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        await page.ClickAsync("a:text('Sources')");
        await page.FillAsync("#name", "GitHub (acme)");
        await page.SelectOptionAsync("#type", "github");
        await page.FillAsync("#secret", "console-secret");
        await page.ClickAsync("button:text('Create source')");
        await Assertions.Expect(page.Locator("[data-testid=created-source] .secret")).ToHaveTextAsync("console-secret");
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("[data-testid=created-source]")).ToHaveCountAsync(0);
        var source = Assert.Single((await admin.ListSourcesAsync(app.Id)).Data);

        // One push signed with the secret, one with another: published and refused.
        using var http = new HttpClient();
        foreach (var secret in new[] { "console-secret", "wrong" })
        {
            const string body = "{\"ref\":\"refs/heads/main\"}";
            using var request = new HttpRequestMessage(HttpMethod.Post, source.IngestUrl) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret), System.Text.Encoding.UTF8.GetBytes(body));
            request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(signature));
            request.Headers.Add("X-GitHub-Event", "push");
            request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
            using var response = await http.SendAsync(request);
        }

        await page.ClickAsync("a:text('GitHub (acme)')");
        await Assertions.Expect(page.Locator("[data-testid=ingest-url]")).ToHaveTextAsync(source.IngestUrl);
        var log = page.Locator("[data-testid=source-log] tbody tr");
        await Assertions.Expect(log).ToHaveCountAsync(2);
        await Assertions.Expect(log.Nth(0)).ToContainTextAsync("does not match");
        await Assertions.Expect(log.Nth(1)).ToContainTextAsync("published");
        await page.ClickAsync("a:text('refused')");
        await Assertions.Expect(log).ToHaveCountAsync(1);
        await page.ClickAsync("a:text('all')");
        await page.ClickAsync("[data-testid=source-log] a:text('github.push')");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("msg_");

        // A tenant's portal does not show what the operator takes in.
        var link = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        var portal = await browser.NewPageAsync();
        await portal.GotoAsync(link.Url);
        Assert.Equal(404, (await portal.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/sources").ToString()))!.Status);
        Assert.Equal(404, (await portal.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/sources/{source.Id}").ToString()))!.Status);
        await portal.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        await Assertions.Expect(portal.Locator("a:text('Sources')")).ToHaveCountAsync(0);
    }
}
