using System.Text.Json;
using Microsoft.Playwright;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

public sealed partial class DashboardTests
{
    [Fact]
    public async Task A_payload_filter_is_set_from_the_settings_form_its_errors_shown_and_the_test_event_says_if_it_passes()
    {
        var api = await fixture.Stack.ApiAsync();
        await fixture.Stack.WorkerAsync();
        var admin = api.Client();
        await using var loopback = await TestReceiver.StartAsync(WebhookSecret.Generate().ToString());
        loopback.Respond = _ => Task.FromResult<int?>(200);
        var app = await admin.CreateApplicationAsync(new ApplicationIn("filter form " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn(loopback.WebhookUrl.ToString()));
        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());

        // An unknown operator: refused, the place named, nothing saved.
        await page.FillAsync("#filter", """{"amount":{"$between":[1,2]}}""");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("'filter.amount.$between' is not an operator");
        await Assertions.Expect(page.Locator("#filter")).ToHaveValueAsync("""{"amount":{"$between":[1,2]}}""");
        Assert.Null((await admin.GetEndpointAsync(app.Id, endpoint.Id)).Filter);

        // Not JSON at all: said so.
        await page.FillAsync("#filter", """{"amount":""");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("'filter' is not valid JSON");

        // A valid filter is saved, shown, and used by the test event.
        await page.FillAsync("#filter", """{"amount":{"$gte":100}}""");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        var saved = (await admin.GetEndpointAsync(app.Id, endpoint.Id)).Filter;
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("""{"amount":{"$gte":100}}""").RootElement, saved!.Value));
        await Assertions.Expect(page.Locator("[data-testid=endpoint-filter]")).ToContainTextAsync("$gte");

        await page.FillAsync("#testPayload", """{"amount":99}""");
        await page.ClickAsync("text=Send test event");
        await Assertions.Expect(page.Locator("[data-testid=filter-matched]")).ToContainTextAsync("does not pass", new() { Timeout = 30_000 });
        await page.FillAsync("#testPayload", """{"amount":100}""");
        await page.ClickAsync("text=Send test event");
        await Assertions.Expect(page.Locator("[data-testid=filter-matched]")).ToContainTextAsync("passes", new() { Timeout = 30_000 });

        // Emptied: no filter.
        await page.FillAsync("#filter", "");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        Assert.Null((await admin.GetEndpointAsync(app.Id, endpoint.Id)).Filter);
    }
}
