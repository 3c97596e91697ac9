using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

/// <summary>A person writes a transformation on the endpoint page, runs it against a message, then saves it.</summary>
[Collection(StackFixture.Collection)]
public sealed class TransformationDashboardTests(StackFixture fixture, BrowserFixture browser)
{
    [Fact]
    public async Task A_person_runs_a_transformation_against_a_message_before_saving_it()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("transform dashboard " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://receiver.example/hook", EventTypes: ["invoice.paid"]));
        var message = await admin.PublishAsync(app.Id, new MessageIn("invoice.paid", JsonSerializer.SerializeToElement(new { invoice = "in_42", amount = 1999 })));
        var other = await admin.CreateApplicationAsync(new ApplicationIn("transform dashboard other"));
        var theirs = await admin.PublishAsync(other.Id, new MessageIn("invoice.paid", JsonSerializer.SerializeToElement(new { invoice = "theirs" })));

        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(api.Url, "/dashboard/signin").ToString());
        await page.FillAsync("#key", fixture.Stack.AdminApiKey);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(new Regex("/dashboard$"));
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}").ToString());

        // Written, then run against the message: the result is shown, nothing is saved.
        await page.SelectOptionAsync("#format", "standard");
        await page.FillAsync("#transformation", "function handler(webhook) {\n  webhook.payload = { text: 'Paid ' + webhook.payload.data.invoice };\n  return webhook;\n}");
        await page.FillAsync("#previewMessageId", message.Id);
        await page.ClickAsync("#run-preview");
        var result = page.GetByTestId("preview-result");
        await Assertions.Expect(result).ToContainTextAsync("""{"text":"Paid in_42"}""");
        await Assertions.Expect(result).ToContainTextAsync("POST");
        await BrowserFixture.ScreenshotAsync(page, "transformation-preview");
        Assert.Null((await admin.GetEndpointAsync(app.Id, endpoint.Id)).Transformation);
        // The form keeps what was typed.
        Assert.Contains("Paid ", await page.InputValueAsync("#transformation"), StringComparison.Ordinal);

        // A script error is shown with its line; another application's message is not found.
        await page.FillAsync("#transformation", "function handler(webhook) {\n  return webhook.;\n}");
        await page.ClickAsync("#run-preview");
        await Assertions.Expect(page.GetByTestId("preview-error")).ToContainTextAsync("line 2");
        await page.FillAsync("#transformation", "function handler(webhook) { return webhook; }");
        await page.FillAsync("#previewMessageId", theirs.Id);
        await page.ClickAsync("#run-preview");
        await Assertions.Expect(page.GetByTestId("preview-error")).ToContainTextAsync("does not exist");

        // The Slack format renders the event; saved with the script, the endpoint has both.
        await page.SelectOptionAsync("#format", "slack");
        await page.FillAsync("#previewMessageId", message.Id);
        await page.ClickAsync("#run-preview");
        await Assertions.Expect(page.GetByTestId("preview-result")).ToContainTextAsync("\"blocks\"");
        await page.ClickAsync("button:text-is('Save')");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Settings saved.");
        var saved = await admin.GetEndpointAsync(app.Id, endpoint.Id);
        Assert.Equal(("function handler(webhook) { return webhook; }", EndpointFormats.Slack), (saved.Transformation, saved.Format));
    }
}
