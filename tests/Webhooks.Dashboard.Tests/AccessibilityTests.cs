using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

/// <summary>
/// Every page of the console and of the tenant portal, at desktop and phone width, checked by axe-core (WCAG 2.1 A and
/// AA rules): no serious or critical violation; and the headers every dashboard response carries.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class AccessibilityTests(StackFixture fixture, BrowserFixture browser)
{
    private static readonly (int Width, int Height)[] Sizes = [(1440, 900), (390, 844)];

    private sealed record World(string AppId, string EndpointId, string MessageId, string PortalUrl, string SourceId);

    private async Task<World> WorldAsync()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("Accessible " + Guid.NewGuid().ToString("N")[..6]));
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("order.created", "An order was placed.",
            System.Text.Json.JsonSerializer.SerializeToElement(new { type = "object", examples = new[] { new { orderId = 1 } } })));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", "Orders", EventTypes: ["order.created"]));
        var message = await admin.PublishAsync(app.Id, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = 7 })));
        var link = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        var source = await admin.CreateSourceAsync(app.Id, new SourceIn("GitHub", SourceTypes.GitHub));
        return new World(app.Id, endpoint.Id, message.Id, link.Url, source.Id);
    }

    private async Task<IBrowserContext> ContextAsync(int width, int height)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(15_000);
        return context;
    }

    private static async Task<IReadOnlyList<string>> ViolationsAsync(IPage page, string where)
    {
        var result = await page.RunAxe(new Deque.AxeCore.Commons.AxeRunOptions
        {
            RunOnly = new Deque.AxeCore.Commons.RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
        });
        return result.Violations
            .Where(v => v.Impact is "serious" or "critical")
            .Select(v => $"{where}: {v.Id} ({v.Impact}) {v.Help} — {string.Join(" | ", v.Nodes.Take(3).Select(n => n.Html))}")
            .ToList();
    }

    [Fact]
    public async Task Every_page_at_both_widths_has_no_serious_or_critical_axe_violation()
    {
        var api = await fixture.Stack.ApiAsync();
        var world = await WorldAsync();
        var operatorPages = new[]
        {
            "/dashboard", "/dashboard/apps", $"/dashboard/apps/{world.AppId}", $"/dashboard/apps/{world.AppId}/endpoints/{world.EndpointId}",
            $"/dashboard/apps/{world.AppId}/messages", $"/dashboard/apps/{world.AppId}/messages?status=pending&range=24h",
            $"/dashboard/apps/{world.AppId}/messages/{world.MessageId}", $"/dashboard/apps/{world.AppId}/event-types",
            $"/dashboard/apps/{world.AppId}/endpoints/ep_01M99EF9AFEGYB12JG0R4K8SA4",
            $"/dashboard/apps/{world.AppId}/sources", $"/dashboard/apps/{world.AppId}/sources/{world.SourceId}",
        };
        var portalPages = new[]
        {
            $"/dashboard/apps/{world.AppId}", $"/dashboard/apps/{world.AppId}/endpoints/{world.EndpointId}", $"/dashboard/apps/{world.AppId}/messages",
            $"/dashboard/apps/{world.AppId}/messages/{world.MessageId}", $"/dashboard/apps/{world.AppId}/event-types",
        };
        var violations = new List<string>();
        foreach (var (width, height) in Sizes)
        {
            await using var context = await ContextAsync(width, height);
            var page = await context.NewPageAsync();
            await page.GotoAsync(new Uri(api.Url, "/dashboard/signin").ToString());
            violations.AddRange(await ViolationsAsync(page, $"{width}px /dashboard/signin"));
            await page.FillAsync("#key", fixture.Stack.AdminApiKey);
            await page.ClickAsync("button[type=submit]");
            await page.WaitForURLAsync(new Regex("/dashboard$"));
            foreach (var path in operatorPages)
            {
                await page.GotoAsync(new Uri(api.Url, path).ToString());
                violations.AddRange(await ViolationsAsync(page, $"{width}px {path}"));
                // Nothing scrolls sideways.
                Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), $"{width}px {path} scrolls sideways");
            }
        }
        foreach (var (width, height) in Sizes)
        {
            await using var context = await ContextAsync(width, height);
            var page = await context.NewPageAsync();
            var link = await api.Client().CreatePortalLinkAsync(world.AppId, new PortalLinkIn());
            // The portal's cookie is Secure: the test host is http on loopback, which Chromium treats as secure.
            await page.GotoAsync(link.Url);
            foreach (var path in portalPages)
            {
                await page.GotoAsync(new Uri(api.Url, path).ToString());
                violations.AddRange(await ViolationsAsync(page, $"portal {width}px {path}"));
                // The portal is the tenant's: this product's name is not in its title or header (a request's own
                // User-Agent, shown in an attempt's headers, is what it is).
                Assert.DoesNotContain("Webhooks.Aspire", await page.TitleAsync(), StringComparison.Ordinal);
                Assert.DoesNotContain("Webhooks.Aspire", await page.Locator("header").InnerTextAsync(), StringComparison.Ordinal);
            }
        }
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public async Task Dashboard_responses_carry_a_strict_csp_and_privacy_headers()
    {
        var api = await fixture.Stack.ApiAsync();
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(api.Url, "/dashboard/signin"));
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'self'", csp, StringComparison.Ordinal);
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("camera=()", response.Headers.GetValues("Permissions-Policy").Single(), StringComparison.Ordinal);
        // The stylesheet and the icon are this server's own.
        var html = await response.Content.ReadAsStringAsync();
        var stylesheet = Regex.Match(html, "href=\"(/dashboard/assets/site\\.[0-9a-f]+\\.css)\"").Groups[1].Value;
        using var css = await http.GetAsync(new Uri(api.Url, stylesheet));
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        using var icon = await http.GetAsync(new Uri(api.Url, "/favicon.ico"));
        Assert.Equal("image/svg+xml", icon.Content.Headers.ContentType?.MediaType);
    }
}
