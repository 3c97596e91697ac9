using System.Text.Json;
using Microsoft.Playwright;
using Webhooks.Client;

namespace Webhooks.Dashboard.Tests;

/// <summary>Ordering and priority at the dashboard: the endpoint form's ordering, a message's priority and ordering key.</summary>
public sealed partial class DashboardTests
{
    [Fact]
    public async Task An_endpoints_ordering_is_set_from_its_form_and_a_messages_priority_and_ordering_key_are_shown()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("ordering form " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hooks"));

        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());
        await Assertions.Expect(page.Locator("[data-testid=ordering]")).ToHaveTextAsync("none");
        await page.SelectOptionAsync("#ordering", "fifo");
        await page.ClickAsync("button:text('Save')");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Settings saved");
        Assert.Equal(OrderingModes.Fifo, (await admin.GetEndpointAsync(app.Id, endpoint.Id)).Ordering);
        await Assertions.Expect(page.Locator("[data-testid=ordering]")).ToHaveTextAsync("fifo");
        await Assertions.Expect(page.Locator("#ordering")).ToHaveValueAsync("fifo");

        var message = await admin.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 }), Priority: 8, OrderingKey: "customer-7"));
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/messages/{message.Id}").ToString());
        await Assertions.Expect(page.Locator("[data-testid=priority]")).ToHaveTextAsync("priority 8");
        await Assertions.Expect(page.Locator("[data-testid=ordering-key]")).ToHaveTextAsync("customer-7");
    }
}
