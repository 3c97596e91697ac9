using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>Portal links through the API: who may create them, what is stored, what bad input gets.</summary>
[Collection(StackFixture.Collection)]
public sealed class PortalLinkTests(StackFixture fixture)
{
    private static async Task<HttpStatusCode> StatusOf(Func<Task> call) => (await Assert.ThrowsAnyAsync<ApiException>(call)).StatusCode;

    [Fact]
    public async Task An_application_key_creates_links_for_its_own_application_only()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("portal mine"));
        var theirs = await admin.CreateApplicationAsync(new ApplicationIn("portal theirs"));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("mine", mine.Id));
        var client = service.Client(key.Key);

        var link = await client.CreatePortalLinkAsync(mine.Id, new PortalLinkIn());
        Assert.StartsWith(service.Url.GetLeftPart(UriPartial.Authority) + "/dashboard/portal/wpl_", link.Url, StringComparison.Ordinal);
        Assert.StartsWith("plk_", link.Id, StringComparison.Ordinal);

        // Another application's link: not found, and none was stored for it.
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => client.CreatePortalLinkAsync(theirs.Id, new PortalLinkIn())));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => client.ListPortalLinksAsync(theirs.Id)));
        Assert.Empty((await admin.ListPortalLinksAsync(theirs.Id)).Data);
        var theirLink = await admin.CreatePortalLinkAsync(theirs.Id, new PortalLinkIn());
        // Nor can it revoke theirs, even naming it under its own application.
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => client.RevokePortalLinkAsync(theirs.Id, theirLink.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => client.RevokePortalLinkAsync(mine.Id, theirLink.Id)));
        Assert.Null((await admin.ListPortalLinksAsync(theirs.Id)).Data.Single().RevokedAt);

        var listed = Assert.Single((await client.ListPortalLinksAsync(mine.Id)).Data);
        Assert.Equal(link.Id, listed.Id);
        Assert.Equal(link.ExpiresAt, listed.ExpiresAt);
        await client.RevokePortalLinkAsync(mine.Id, link.Id);
        Assert.NotNull((await client.ListPortalLinksAsync(mine.Id)).Data.Single().RevokedAt);
    }

    [Fact]
    public async Task A_link_lasts_an_hour_by_default_and_stores_only_the_hash_of_its_token()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal storage"));
        var http = service.Http();

        // No body at all: every option is optional.
        var response = await http.PostAsync($"/api/v1/apps/{app.Id}/portal-links", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var link = (await response.Content.ReadFromJsonAsync<PortalLinkCreated>())!;
        var token = link.Url[(link.Url.LastIndexOf('/') + 1)..];
        // 256 random bits, base64url.
        Assert.Equal(4 + 43, token.Length);

        await using var connection = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT token_hash, extract(epoch FROM expires_at - created_at)::int, read_only, allowed_event_types IS NULL, (SELECT row_to_json(l)::text FROM portal_links l WHERE l.id = @id) FROM portal_links WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", link.Id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(token)), (byte[])reader[0]);
        Assert.Equal(3600, reader.GetInt32(1));
        Assert.False(reader.GetBoolean(2));
        Assert.True(reader.GetBoolean(3));
        Assert.DoesNotContain(token[4..], reader.GetString(4), StringComparison.Ordinal);

        // The list never shows the token.
        var listed = await http.GetStringAsync($"/api/v1/apps/{app.Id}/portal-links");
        Assert.DoesNotContain(token, listed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"expiresInSeconds":0}""", "expiresInSeconds")]
    [InlineData("""{"expiresInSeconds":86401}""", "expiresInSeconds")]
    [InlineData("""{"expiresInSeconds":-5}""", "expiresInSeconds")]
    [InlineData("""{"allowedEventTypes":[]}""", "allowedEventTypes")]
    [InlineData("""{"allowedEventTypes":["order created"]}""", "allowedEventTypes[0]")]
    [InlineData("""{"expiresInSeconds":"soon"}""", "expiresInSeconds")]
    [InlineData("""{"readOnly":"yes"}""", "readOnly")]
    public async Task Bad_options_get_a_problem_naming_the_field_and_create_nothing(string body, string field)
    {
        var service = await fixture.Stack.ApiAsync();
        var app = await service.Client().CreateApplicationAsync(new ApplicationIn("portal bad input"));
        var response = await service.Http().PostAsync($"/api/v1/apps/{app.Id}/portal-links", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty((await service.Client().ListPortalLinksAsync(app.Id)).Data);
    }

    [Fact]
    public async Task Options_are_stored_as_asked()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("portal options"));
        var before = DateTimeOffset.UtcNow;
        var link = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn(86400, true, ["order.created", "order.created", "order.paid"]));
        var listed = Assert.Single((await admin.ListPortalLinksAsync(app.Id)).Data);
        Assert.True(listed.ReadOnly);
        Assert.Equal(["order.created", "order.paid"], listed.AllowedEventTypes!);
        Assert.Equal(86400, (int)Math.Round((listed.ExpiresAt - listed.CreatedAt).TotalSeconds));
        Assert.True(link.ExpiresAt > before.AddHours(23));
        Assert.Null(listed.UsedAt);
    }

    [Fact]
    public async Task Opened_by_many_at_once_a_link_signs_in_exactly_one()
    {
        var service = await fixture.Stack.ApiAsync();
        var app = await service.Client().CreateApplicationAsync(new ApplicationIn("portal race"));
        var link = await service.Client().CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => http.GetAsync(link.Url)));
        var signedIn = Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Redirect);
        Assert.Equal($"/dashboard/apps/{app.Id}", signedIn.Headers.Location?.OriginalString);
        Assert.Contains(signedIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("webhooks_portal=", StringComparison.Ordinal));
        Assert.All(answers.Where(a => a != signedIn), a => Assert.Equal(HttpStatusCode.Forbidden, a.StatusCode));
        Assert.NotNull(Assert.Single((await service.Client().ListPortalLinksAsync(app.Id)).Data).UsedAt);
    }

    [Fact]
    public async Task Portal_settings_take_origins_a_logo_and_a_readable_colour_and_stay_in_their_application()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("portal settings"));
        var theirs = await admin.CreateApplicationAsync(new ApplicationIn("portal settings theirs"));
        var client = service.Client((await admin.CreateApiKeyAsync(new ApiKeyIn("settings", mine.Id))).Key);

        var none = await client.GetPortalSettingsAsync(mine.Id);
        Assert.Equal((0, null, null, null, "light"), (none.FrameAncestors.Count, none.Name, none.LogoUrl, none.AccentColor, none.Theme));
        var set = await client.UpdatePortalSettingsAsync(mine.Id,
            new PortalSettingsIn(["https://App.Example.com", "https://*.tenant.example", "http://localhost:3000"], "Acme", "https://cdn.example.com/logo.svg", "#0B6E4F", "dark"));
        Assert.Equal(["https://app.example.com", "https://*.tenant.example", "http://localhost:3000"], set.FrameAncestors);
        Assert.Equal(("Acme", "#0b6e4f", "dark"), (set.Name, set.AccentColor, set.Theme));

        foreach (var bad in new PortalSettingsIn[]
                 {
                     new(["https://app.example.com/embed"]), new(["javascript:alert(1)"]), new(["https://app.example.com 'unsafe-inline'"]), new(["*"]), new(["https://\u212Aelvin.example.com"]), new(["https://café.example"]),
                     new(Enumerable.Range(0, 11).Select(i => $"https://a{i}.example.com").ToList()),
                     new(LogoUrl: "http://cdn.example.com/logo.svg"), new(AccentColor: "#ffff00"), new(AccentColor: "red; }"), new(Theme: "neon"),
                     new(Name: "a\u0007b"),
                 })
        {
            Assert.Equal(HttpStatusCode.BadRequest, await StatusOf(() => client.UpdatePortalSettingsAsync(mine.Id, bad)));
        }
        Assert.Equal("#0b6e4f", (await client.GetPortalSettingsAsync(mine.Id)).AccentColor);
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => client.UpdatePortalSettingsAsync(theirs.Id, new PortalSettingsIn(["https://evil.example"]))));

        // An embeddable link needs an origin to be framed by.
        Assert.Equal(HttpStatusCode.BadRequest, await StatusOf(() => admin.CreatePortalLinkAsync(theirs.Id, new PortalLinkIn(Embeddable: true))));
        await admin.CreatePortalLinkAsync(mine.Id, new PortalLinkIn(Embeddable: true));
    }
}
