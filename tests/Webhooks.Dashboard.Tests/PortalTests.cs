using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using Webhooks.Testing.Processes;
using Webhooks.Client;

namespace Webhooks.Dashboard.Tests;

/// <summary>Portal links: a tenant's own users in the dashboard, one application, no API key.</summary>
public sealed partial class DashboardTests
{
    /// <summary>A portal link for the application, opened in a browser of its own: the page it lands on.</summary>
    private async Task<(IPage Page, PortalLinkCreated Link)> PortalAsync(string appId, PortalLinkIn? options = null, bool javaScript = false)
    {
        var api = await fixture.Stack.ApiAsync();
        var key = await api.Client().CreateApiKeyAsync(new ApiKeyIn("portal issuer", appId));
        var link = await api.Client(key.Key).CreatePortalLinkAsync(appId, options ?? new PortalLinkIn());
        var page = await browser.NewPageAsync(javaScript);
        var response = await page.GotoAsync(link.Url);
        Assert.Equal(200, response!.Status);
        Assert.EndsWith($"/dashboard/apps/{appId}", page.Url, StringComparison.Ordinal);
        return (page, link);
    }

    private static async Task<int> StatusAsync(IPage page, Uri api, string path) => (await page.GotoAsync(new Uri(api, path).ToString()))!.Status;

    private async Task ExecuteSqlAsync(string sql, string id)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", id);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task A_portal_link_opens_its_applications_pages_and_nothing_else()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (mine, endpoint, disabled, message) = await FormTargetsAsync(admin, "portal mine");
        var (theirs, theirEndpoint, theirDisabled, theirMessage) = await FormTargetsAsync(admin, "portal theirs");
        var (page, _) = await PortalAsync(mine.Id);

        // Its application's pages: endpoints, messages, a message's deliveries, an endpoint with its attempts.
        await Assertions.Expect(page.Locator("[data-testid=endpoints]")).ToContainTextAsync("https://example.com/forms");
        Assert.Equal(0, await page.Locator("header a[href='/dashboard/apps']").CountAsync());
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{mine.Id}/messages"));
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync(message.Id);
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{mine.Id}/messages/{message.Id}"));
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("https://example.com/parked");
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{mine.Id}/endpoints/{endpoint.Id}"));
        await Assertions.Expect(page.Locator("[data-testid=attempts]")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "portal-endpoint");
        // The overview across applications is its application's page.
        Assert.Equal(200, await StatusAsync(page, api.Url, "/dashboard"));
        Assert.EndsWith($"/dashboard/apps/{mine.Id}", page.Url, StringComparison.Ordinal);

        // The cookie works in another site's frame: SameSite=None, hence Secure; never readable by script.
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "webhooks_portal");
        Assert.Equal(SameSiteAttribute.None, cookie.SameSite);
        Assert.True(cookie.Secure);
        Assert.True(cookie.HttpOnly);

        // The admin pages: refused.
        Assert.Equal(403, await StatusAsync(page, api.Url, "/dashboard/apps"));
        // Every page of another application, and its things named under this one: not found.
        foreach (var path in new[] { $"/dashboard/apps/{theirs.Id}", $"/dashboard/apps/{theirs.Id}/event-types", $"/dashboard/apps/{theirs.Id}/messages",
                     $"/dashboard/apps/{theirs.Id}/messages/{theirMessage.Id}", $"/dashboard/apps/{theirs.Id}/endpoints/{theirEndpoint.Id}",
                     $"/dashboard/apps/{mine.Id}/messages/{theirMessage.Id}", $"/dashboard/apps/{mine.Id}/endpoints/{theirEndpoint.Id}" })
        {
            Assert.True(await StatusAsync(page, api.Url, path) == 404, $"GET {path} was not refused");
        }
        // The API takes no session: API keys, applications, anything.
        foreach (var path in new[] { "/api/v1/api-keys", "/api/v1/apps", $"/api/v1/apps/{mine.Id}/endpoints" })
        {
            Assert.Equal(401, (await page.Context.APIRequest.GetAsync(new Uri(api.Url, path).ToString())).Status);
        }

        // Forms: a valid token of this session (the sign-out form's) ...
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{mine.Id}").ToString());
        var token = await page.Locator("form[method=post] input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");
        // ... acts on nothing of another application, creates no application, and creates no event type.
        foreach (var (name, path, fields) in Forms(theirs.Id, theirEndpoint.Id, theirDisabled.Id, theirMessage.Id))
        {
            var response = await PostAsync(page, api.Url, path, fields, token);
            Assert.True(response.Status is 403 or 404, $"{name} ({path}) answered {response.Status}");
        }
        await AssertUntouchedAsync(admin, theirs, theirEndpoint, theirDisabled, theirMessage);
        foreach (var (name, path, fields) in Forms(mine.Id, endpoint.Id, disabled.Id, message.Id).Where(f => f.Name.Contains("event type", StringComparison.Ordinal)))
        {
            var response = await PostAsync(page, api.Url, path, fields, token);
            Assert.True(response.Status == 403, $"{name} ({path}) answered {response.Status}");
        }
        Assert.Equal(["forms.kept"], (await admin.ListEventTypesAsync(mine.Id)).Data.Select(t => t.Name));
        // The token is good: with it the session manages its own endpoints.
        var disabling = await PostAsync(page, api.Url, $"/dashboard/apps/{mine.Id}/endpoints/{endpoint.Id}?handler=Disable", [], token);
        Assert.Equal(302, disabling.Status);
        Assert.True((await admin.GetEndpointAsync(mine.Id, endpoint.Id)).Disabled);
    }

    [Fact]
    public async Task A_portal_link_opened_by_a_signed_in_operator_does_not_replace_the_operators_console()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal over operator " + Guid.NewGuid().ToString("N")[..8]));
        var issuer = await admin.CreateApiKeyAsync(new ApiKeyIn("portal issuer", app.Id));
        var link = await api.Client(issuer.Key).CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        var page = await SignedInAsync(fixture.Stack.AdminApiKey);
        Assert.Equal(200, await StatusAsync(page, api.Url, "/dashboard/apps"));

        // A tenant gets the operator to open its link: the operator's session still wins on every page.
        await page.GotoAsync(link.Url);
        Assert.Equal(200, await StatusAsync(page, api.Url, "/dashboard/apps"));
        await Assertions.Expect(page.Locator("header a[href='/dashboard/apps']")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task A_portal_link_works_once_and_not_once_expired()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal once " + Guid.NewGuid().ToString("N")[..6]));
        var (_, link) = await PortalAsync(app.Id);

        // Opened again, in another browser: refused, and no session.
        var again = await browser.NewPageAsync(javaScript: false);
        Assert.Equal(403, (await again.GotoAsync(link.Url))!.Status);
        await Assertions.Expect(again.Locator("[data-testid=portal-refused]")).ToBeVisibleAsync();
        Assert.DoesNotContain(await again.Context.CookiesAsync(), c => c.Name == "webhooks_portal");
        Assert.Equal(302, (await again.Context.APIRequest.GetAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString(), new() { MaxRedirects = 0 })).Status);

        // A link past its expiry (on the database's clock) opens nothing.
        var expired = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        await ExecuteSqlAsync("UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE id = @id", expired.Id);
        var late = await browser.NewPageAsync(javaScript: false);
        Assert.Equal(403, (await late.GotoAsync(expired.Url))!.Status);
        Assert.DoesNotContain(await late.Context.CookiesAsync(), c => c.Name == "webhooks_portal");
        // Nor does a made-up token.
        Assert.Equal(403, (await late.GotoAsync(link.Url[..^4] + "AAAA"))!.Status);
    }

    [Fact]
    public async Task A_portal_session_ends_when_its_link_expires_or_is_revoked()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal end " + Guid.NewGuid().ToString("N")[..6]));
        var appPath = $"/dashboard/apps/{app.Id}";

        var (revokedPage, revokedLink) = await PortalAsync(app.Id);
        var (expiringPage, expiringLink) = await PortalAsync(app.Id);
        Assert.Equal(200, await StatusAsync(revokedPage, api.Url, appPath + "/messages"));
        Assert.Equal(200, await StatusAsync(expiringPage, api.Url, appPath + "/messages"));

        // A session of an application that is then deleted.
        var doomed = await admin.CreateApplicationAsync(new ApplicationIn("portal doomed " + Guid.NewGuid().ToString("N")[..6]));
        var (deletedPage, _) = await PortalAsync(doomed.Id);
        await admin.DeleteApplicationAsync(doomed.Id);
        Assert.Equal(403, await StatusAsync(deletedPage, api.Url, $"/dashboard/apps/{doomed.Id}/messages"));
        await Assertions.Expect(deletedPage.Locator("[data-testid=portal-refused]")).ToBeVisibleAsync();

        await admin.RevokePortalLinkAsync(app.Id, revokedLink.Id);
        await ExecuteSqlAsync("UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE id = @id", expiringLink.Id);
        foreach (var page in new[] { revokedPage, expiringPage })
        {
            Assert.Equal(403, await StatusAsync(page, api.Url, appPath + "/messages"));
            Assert.Contains("/dashboard/portal", page.Url, StringComparison.Ordinal);
            await Assertions.Expect(page.Locator("[data-testid=portal-refused]")).ToBeVisibleAsync();
            Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "webhooks_portal");
        }
    }

    [Fact]
    public async Task A_read_only_portal_session_sees_everything_of_its_application_but_every_form_is_refused()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (app, endpoint, disabled, message) = await FormTargetsAsync(admin, "portal read-only");
        var (page, _) = await PortalAsync(app.Id, new PortalLinkIn(ReadOnly: true));

        foreach (var path in new[] { $"/dashboard/apps/{app.Id}", $"/dashboard/apps/{app.Id}/messages", $"/dashboard/apps/{app.Id}/messages/{message.Id}",
                     $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}", $"/dashboard/apps/{app.Id}/endpoints/{disabled.Id}", $"/dashboard/apps/{app.Id}/event-types" })
        {
            Assert.Equal(200, await StatusAsync(page, api.Url, path));
            // Only the sign-out form is shown.
            Assert.Equal(1, await page.Locator("form[method=post]").CountAsync());
        }
        var token = await page.Locator("form[method=post] input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");
        foreach (var (name, path, fields) in Forms(app.Id, endpoint.Id, disabled.Id, message.Id))
        {
            var response = await PostAsync(page, api.Url, path, fields, token);
            Assert.True(response.Status == 403, $"{name} ({path}) answered {response.Status}");
        }
        await AssertUntouchedAsync(admin, app, endpoint, disabled, message);
        // Signing out is not a change: it works.
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        await page.ClickAsync("header button[type=submit]");
        await Assertions.Expect(page.Locator("[data-testid=portal-refused]")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "webhooks_portal");
        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        Assert.Contains("/dashboard/signin", page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_portal_session_with_allowed_event_types_subscribes_and_sees_only_those()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal types " + Guid.NewGuid().ToString("N")[..6]));
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/orders", EventTypes: ["order.created"]));
        await admin.DisableEndpointAsync(app.Id, endpoint.Id, new DisableEndpointIn("parked: the test reads messages, not deliveries"));
        var order = await admin.PublishAsync(app.Id, new MessageIn("order.created", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 1 })));
        var user = await admin.PublishAsync(app.Id, new MessageIn("user.deleted", System.Text.Json.JsonSerializer.SerializeToElement(new { n = 2 })));
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("order.created"));
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("user.deleted"));
        var (page, _) = await PortalAsync(app.Id, new PortalLinkIn(AllowedEventTypes: ["order.created", "order.paid"]));

        // Event types: only the allowed ones.
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{app.Id}/event-types"));
        await Assertions.Expect(page.Locator("[data-testid=event-types]")).ToContainTextAsync("order.created");
        Assert.Equal(0, await page.GetByText("user.deleted").CountAsync());

        // Messages: only the allowed types are listed or shown.
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{app.Id}/messages"));
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync(order.Id);
        Assert.Equal(0, await page.GetByText(user.Id).CountAsync());
        Assert.Equal(404, await StatusAsync(page, api.Url, $"/dashboard/apps/{app.Id}/messages/{user.Id}"));
        Assert.Equal(200, await StatusAsync(page, api.Url, $"/dashboard/apps/{app.Id}/messages/{order.Id}"));

        await page.GotoAsync(new Uri(api.Url, $"/dashboard/apps/{app.Id}").ToString());
        var token = await page.Locator("form[method=post] input[name=__RequestVerificationToken]").First.GetAttributeAsync("value");
        // An endpoint for another type, or for every type (none named): 422, none created.
        foreach (var types in new[] { "user.deleted", "order.created, user.deleted", "" })
        {
            var refused = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}", new() { ["url"] = "https://example.com/new", ["eventTypes"] = types }, token);
            Assert.True(refused.Status == 422, $"eventTypes '{types}' answered {refused.Status}");
        }
        // An endpoint that also serves types the session may not see is not the session's to change or delete.
        var wide = await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/wide", EventTypes: ["order.created", "user.deleted"]));
        foreach (var handler in new[] { "Delete", "Disable", "Rotate" })
        {
            var refused = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}/endpoints/{wide.Id}?handler={handler}", [], token);
            Assert.True(refused.Status == 404, $"{handler} of a wider endpoint answered {refused.Status}");
        }
        Assert.False((await admin.GetEndpointAsync(app.Id, wide.Id)).Disabled);
        Assert.Equal(wide.Secret, (await admin.GetEndpointSecretAsync(app.Id, wide.Id)).Key);
        await admin.DeleteEndpointAsync(app.Id, wide.Id);
        Assert.Single((await admin.ListEndpointsAsync(app.Id)).Data);
        // An existing endpoint widened: 422, unchanged.
        var widened = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}?handler=Update",
            new() { ["url"] = "https://example.com/orders", ["eventTypes"] = "order.created, user.deleted" }, token);
        Assert.Equal(422, widened.Status);
        Assert.Equal(["order.created"], (await admin.GetEndpointAsync(app.Id, endpoint.Id)).EventTypes);
        // A test event of another type: 422. Resending another type's message: not found, its delivery untouched.
        var test = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}?handler=Test", new() { ["testEventType"] = "user.deleted" }, token);
        Assert.Equal(422, test.Status);
        Assert.Equal(404, (await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}/messages/{user.Id}?handler=Resend", new() { ["endpointId"] = endpoint.Id }, token)).Status);

        // Within the allowed types, the session creates and edits.
        var created = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}", new() { ["url"] = "https://example.com/paid", ["eventTypes"] = "order.paid" }, token);
        Assert.Equal(302, created.Status);
        Assert.Equal(2, (await admin.ListEndpointsAsync(app.Id)).Data.Count);
        var edited = await PostAsync(page, api.Url, $"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}?handler=Update",
            new() { ["url"] = "https://example.com/orders", ["eventTypes"] = "order.created, order.paid" }, token);
        Assert.Equal(302, edited.Status);
        Assert.Equal(["order.created", "order.paid"], (await admin.GetEndpointAsync(app.Id, endpoint.Id)).EventTypes);
    }

    [Fact]
    public async Task A_portal_session_works_framed_by_a_listed_site_and_no_other_site_may_frame_the_dashboard()
    {
        // The tenant's site is another site than the dashboard's (localhost, not 127.0.0.1): the frame is cross-site, so
        // only SameSite=None cookies go with its requests.
        var tenantSite = $"http://localhost:{LocalPostgres.FreePort()}";
        await using var embeddable = await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["Webhooks__Dashboard__FrameAncestors__0"] = tenantSite });
        var shared = await fixture.Stack.ApiAsync();
        var admin = shared.Client();
        var (app, endpoint, _, _) = await FormTargetsAsync(admin, "portal framed");
        var listed = await embeddable.Client().CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        var unlisted = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn());

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(tenantSite);
        await using var site = builder.Build();
        site.MapGet("/{which}", (string which) => Results.Content(
            $"<!DOCTYPE html><html><body><h1>Tenant</h1><iframe src=\"{(which == "listed" ? listed.Url : unlisted.Url)}\" width=\"420\" height=\"800\"></iframe></body></html>",
            "text/html"));
        await site.StartAsync();

        // Listed: the session opens in the frame, and a form posted from the frame (session and antiforgery cookies) acts.
        var page = await browser.NewPageAsync();
        await page.GotoAsync(tenantSite + "/listed");
        var frame = page.FrameLocator("iframe");
        await Assertions.Expect(frame.Locator("[data-testid=endpoints]")).ToContainTextAsync("https://example.com/forms");
        await frame.Locator($"a[href$='/endpoints/{endpoint.Id}']").ClickAsync();
        await frame.Locator("summary", new() { HasTextString = "Disable…" }).ClickAsync();
        await frame.Locator("button", new() { HasTextString = "Disable the endpoint" }).ClickAsync();
        await Assertions.Expect(frame.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint disabled");
        Assert.True((await admin.GetEndpointAsync(app.Id, endpoint.Id)).Disabled);
        await BrowserFixture.ScreenshotAsync(page, "portal-framed");

        // The headers that say so: the listed origin for the configured instance; only the dashboard itself otherwise.
        using var http = new HttpClient();
        var framed = await http.GetAsync(new Uri(embeddable.Url, "/dashboard/portal"));
        Assert.EndsWith($"; frame-ancestors 'self' {tenantSite}", string.Join(";", framed.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.False(framed.Headers.Contains("X-Frame-Options"));
        var own = await http.GetAsync(new Uri(shared.Url, "/dashboard/portal"));
        Assert.EndsWith("; frame-ancestors 'self'", string.Join(";", own.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.Equal("SAMEORIGIN", string.Join(";", own.Headers.GetValues("X-Frame-Options")));

        // Not listed: the browser shows nothing of the dashboard in the frame (the page's load event waits for the frame).
        var other = await browser.NewPageAsync();
        await other.GotoAsync(tenantSite + "/unlisted");
        var child = other.Frames.Single(f => f != other.MainFrame);
        Assert.Equal(0, await child.Locator("[data-testid=endpoints]").CountAsync());
        Assert.DoesNotContain("/dashboard/apps/", child.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_application_names_the_sites_that_embed_its_portal_and_a_refused_frame_does_not_use_up_the_link()
    {
        var tenantSite = $"http://localhost:{LocalPostgres.FreePort()}";
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (app, _, _, _) = await FormTargetsAsync(admin, "portal embedded per app");
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("forms.catalogued", "A form was catalogued.",
            System.Text.Json.JsonSerializer.SerializeToElement(new { type = "object", examples = new[] { new { form = 1 } } })));

        // No origin named yet: an embeddable link is refused, saying why.
        var refused = await Assert.ThrowsAnyAsync<Refit.ApiException>(() => admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn(Embeddable: true)));
        Assert.Contains("frameAncestors", refused.Content, StringComparison.Ordinal);
        var settings = await admin.UpdatePortalSettingsAsync(app.Id, new PortalSettingsIn([tenantSite], "Acme Hooks", AccentColor: "#0B6E4F", Theme: "dark"));
        Assert.Equal([tenantSite], settings.FrameAncestors);
        var link = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn(Embeddable: true));
        var spare = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn(Embeddable: true));

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(tenantSite);
        await using var site = builder.Build();
        site.MapGet("/embed", (string url) => Results.Content(
            $"<!DOCTYPE html><html><head><meta name=\"viewport\" content=\"width=device-width\"></head><body><iframe src=\"{url}\" width=\"370\" height=\"780\"></iframe></body></html>",
            "text/html"));
        await site.StartAsync();

        // At phone width, inside the tenant's page: the portal, themed and named as the tenant's, with its catalogue.
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{tenantSite}/embed?url={Uri.EscapeDataString(link.Url)}");
        var frame = page.FrameLocator("iframe");
        await Assertions.Expect(frame.Locator("header .brand")).ToHaveTextAsync("Acme Hooks");
        await frame.Locator("a", new() { HasTextString = "Event catalogue" }).First.ClickAsync();
        await Assertions.Expect(frame.Locator("[data-testid=event-types]")).ToContainTextAsync("A form was catalogued.");
        await Assertions.Expect(frame.Locator("[data-testid=example]").First).ToContainTextAsync("\"form\"");
        await BrowserFixture.ScreenshotAsync(page, "portal-embedded-phone");

        // And creates an endpoint there: its secret shown once, and nothing of the operator's engine settings on the form.
        await frame.Locator("a", new() { HasTextString = "Endpoints" }).First.ClickAsync();
        Assert.Equal(0, await frame.Locator("#maxInFlight, #circuitBreakerThreshold, #ordering").CountAsync());
        await frame.Locator("#url").FillAsync("https://example.com/embedded");
        await frame.Locator("#eventTypes").FillAsync("forms.catalogued");
        await frame.Locator("button", new() { HasTextString = "Create endpoint" }).ClickAsync();
        await Assertions.Expect(frame.Locator("[data-testid=created-secret] .secret")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^whsec_"));
        Assert.Contains((await admin.ListEndpointsAsync(app.Id)).Data, e => e.Url == "https://example.com/embedded");

        // Framed by a site the application does not name: refused before the link is used, so it still opens on its own.
        var otherSite = tenantSite.Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
        var stranger = await context.NewPageAsync();
        await stranger.GotoAsync($"{otherSite}/embed?url={Uri.EscapeDataString(spare.Url)}");
        var child = stranger.Frames.Single(f => f != stranger.MainFrame);
        Assert.Equal(0, await child.Locator("[data-testid=endpoints]").CountAsync());
        var direct = await context.NewPageAsync();
        await direct.GotoAsync(spare.Url);
        await Assertions.Expect(direct.Locator("[data-testid=endpoints]")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Portal_pages_fit_a_phone_screen()
    {
        var api = await fixture.Stack.ApiAsync();
        var admin = api.Client();
        var (app, endpoint, _, message) = await FormTargetsAsync(admin, "portal phone");
        await admin.CreateEndpointAsync(app.Id, new EndpointIn("https://hooks.example.com/a/rather/long/path/that/a/phone/must/wrap?tenant=42&region=eu-west-1",
            "An endpoint with a long description, as tenants write them", ["forms.kept", "forms.parked"]));
        var (page, _) = await PortalAsync(app.Id, javaScript: true);
        await page.SetViewportSizeAsync(375, 812);
        foreach (var (path, shot) in new[] { ($"/dashboard/apps/{app.Id}", "portal-phone-app"), ($"/dashboard/apps/{app.Id}/messages", "portal-phone-messages"),
                     ($"/dashboard/apps/{app.Id}/messages/{message.Id}", "portal-phone-message"), ($"/dashboard/apps/{app.Id}/endpoints/{endpoint.Id}", "portal-phone-endpoint") })
        {
            Assert.Equal(200, await StatusAsync(page, api.Url, path));
            var width = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
            Assert.True(width <= 375, $"{path} is {width} px wide at 375 px");
            await BrowserFixture.ScreenshotAsync(page, shot);
        }
    }
}
