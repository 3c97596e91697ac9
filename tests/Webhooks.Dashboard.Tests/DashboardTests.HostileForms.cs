using Microsoft.Playwright;

namespace Webhooks.Dashboard.Tests;

public sealed partial class DashboardTests
{
    /// <summary>What a careless or hostile user types: NUL and control characters, right-to-left and non-ASCII text, emoji, huge values.</summary>
    private static readonly string[] HostileValues =
        ["\0", "a\0b", "\u0001\u001f\u007f", "é✓ 😀 中文", "\u202eevil", new string('x', 20_000), "' OR 1=1 --", "<script>alert(1)</script>", " ", "-1", "9999999999999"];

    [Fact]
    public async Task Every_form_field_and_list_parameter_takes_hostile_text_without_a_server_error()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (app, endpoint, disabled, message) = await FormTargetsAsync(admin, "hostile forms");
        var page = await SignedInAsync(fixture.Stack.AdminApiKey, javaScript: false);
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        var token = await page.Locator("form[method=post] input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");

        var failures = new List<string>();
        // Not the test event: a valid one waits for the worker's attempt (the API's generated-input test covers its route).
        foreach (var (name, path, fields) in Forms(app.Id, endpoint.Id, disabled.Id, message.Id).Where(f => f.Name != "send test event"))
        {
            var names = fields.Keys.Concat(["url", "description", "eventTypes", "filter", "transformation", "format", "authType", "since", "testPayload"]).Distinct();
            foreach (var field in names)
            {
                foreach (var value in HostileValues)
                {
                    var form = new Dictionary<string, string>(fields) { [field] = value };
                    var response = await PostAsync(page, api.Url, path, form, token);
                    if (response.Status >= 500)
                    {
                        failures.Add($"{name} {field}={Show(value)}: {response.Status}");
                    }
                }
            }
        }
        foreach (var parameter in new[] { "status", "endpointId", "eventType", "search", "payload", "range", "since", "until", "iterator", "newerThan" })
        {
            foreach (var value in HostileValues)
            {
                var query = parameter is "since" or "until" ? $"range=custom&{parameter}={Uri.EscapeDataString(value)}" : $"{parameter}={Uri.EscapeDataString(value)}";
                var response = await page.Context.APIRequest.GetAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}/messages?{query}").ToString());
                if (response.Status >= 500)
                {
                    failures.Add($"messages {parameter}={Show(value)}: {response.Status}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));

        static string Show(string value) => value.Length > 40 ? $"({value.Length} chars)" : System.Text.Json.JsonSerializer.Serialize(value);
    }
}
