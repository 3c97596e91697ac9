using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>
/// Input that used to be accepted and break later (a 500, a burnt portal link, an endpoint whose every attempt fails):
/// nulls inside lists and maps, NUL characters, headers that cannot be sent. Refused at once with a 400 naming the
/// field, and nothing stored.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class RefusedAtTheDoorTests(StackFixture fixture)
{
    private async Task<(HttpClient Http, string AppId)> AppAsync(string name)
    {
        var api = await fixture.Stack.ApiAsync();
        var app = await api.Client().CreateApplicationAsync(new ApplicationIn(name + " " + Guid.NewGuid().ToString("N")[..8]));
        return (api.Http(), app.Id);
    }

    private static async Task<JsonElement> RefusedAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error named '{field}': {body}");
        return problem;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_null_in_a_list_is_refused_by_its_index_and_nothing_is_created()
    {
        var (http, app) = await AppAsync("null items");
        using (http)
        {
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/portal-links", Json("""{"allowedEventTypes":[null]}""")), "allowedEventTypes[0]");
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/endpoints",
                Json("""{"url":"https://example.com/hook","eventTypes":["a.b",null]}""")), "eventTypes[1]");
            var links = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{app}/portal-links");
            Assert.Equal(0, links.GetProperty("data").GetArrayLength());
            var endpoints = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{app}/endpoints");
            Assert.Equal(0, endpoints.GetProperty("data").GetArrayLength());
        }
    }

    [Fact]
    public async Task A_null_value_in_a_map_is_a_400_naming_its_key_not_a_500()
    {
        var (http, app) = await AppAsync("null values");
        using (http)
        {
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/endpoints",
                Json("""{"url":"https://example.com/hook","headers":{"X-A":null}}""")), "headers.X-A");
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/endpoints",
                Json("""{"url":"https://example.com/hook","metadata":{"m":null}}""")), "metadata.m");
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/transformations/preview",
                Json("""{"transformation":"function handler(w) { return w; }","eventType":"a.b","payload":{},"headers":{"X-A":null}}""")), "headers.X-A");
        }
    }

    [Fact]
    public async Task A_nul_character_in_a_body_a_query_string_or_a_dashboard_url_is_a_400()
    {
        var (http, app) = await AppAsync("nul");
        using (http)
        {
            await RefusedAsync(await http.PostAsync($"/api/v1/apps/{app}/event-types", Json("""{"name":"a.b","description":"x\u0000y"}""")), "description");
            foreach (var path in new[] { "/api/v1/apps?iterator=%00", $"/api/v1/apps/{app}/messages?iterator=a%00b", "/dashboard/apps?after=%00" })
            {
                using var response = await http.GetAsync(path);
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"GET {path}: {(int)response.StatusCode}");
            }
            var types = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{app}/event-types");
            Assert.Equal(0, types.GetProperty("data").GetArrayLength());
        }
    }

    [Fact]
    public async Task A_header_value_that_cannot_be_sent_is_refused_naming_the_header()
    {
        var (http, app) = await AppAsync("non-ascii");
        using (http)
        {
            using var custom = await http.PostAsync($"/api/v1/apps/{app}/endpoints",
                Json("""{"url":"https://example.com/hook","headers":{"X-Note":"café"}}"""));
            Assert.Equal(HttpStatusCode.BadRequest, custom.StatusCode);
            Assert.Contains("Header 'X-Note'", await custom.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            using var auth = await http.PostAsync($"/api/v1/apps/{app}/endpoints",
                Json("""{"url":"https://example.com/hook","auth":{"type":"header","name":"X-Key","value":"clé"}}"""));
            Assert.Equal(HttpStatusCode.BadRequest, auth.StatusCode);
            var endpoints = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{app}/endpoints");
            Assert.Equal(0, endpoints.GetProperty("data").GetArrayLength());
        }
    }

    [Fact]
    public async Task Previews_past_the_script_caps_are_refused_with_429_and_retry_after_instead_of_queueing()
    {
        var (http, app) = await AppAsync("script caps");
        using (http)
        {
            // A few hundred milliseconds of script each, all at once for one application: one runs, the rest are told to retry.
            const string busy = """{"transformation":"function handler(w) { let s = 0; for (let i = 0; i < 300000; i++) { s += i; } return w; }","eventType":"a.b","payload":{}}""";
            var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => http.PostAsync($"/api/v1/apps/{app}/transformations/preview", Json(busy))));
            var statuses = responses.Select(r => (int)r.StatusCode).ToList();
            Assert.All(statuses, status => Assert.True(status is 200 or 429, string.Join(", ", statuses)));
            Assert.Contains(200, statuses);
            Assert.Contains(429, statuses);
            var refused = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task Metrics_answer_only_to_the_operators_key()
    {
        var api = await fixture.Stack.ApiAsync();
        using var anonymous = new HttpClient { BaseAddress = api.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        using var application = api.Http((await api.Client().CreateApiKeyAsync(new ApiKeyIn("metrics",
            (await api.Client().CreateApplicationAsync(new ApplicationIn("metrics " + Guid.NewGuid()))).Id))).Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await application.GetAsync("/metrics")).StatusCode);
        using var admin = api.Http();
        var metrics = await admin.GetStringAsync("/metrics");
        Assert.Contains("http_server_request_duration", metrics, StringComparison.Ordinal);
        // The health endpoint says nothing but the status.
        Assert.Equal("Healthy", await anonymous.GetStringAsync("/health"));
    }

    [Fact]
    public async Task A_portal_token_whose_redemption_fails_is_not_written_to_the_log()
    {
        // A stack of its own, whose portal links table goes missing: redeeming throws, and the error is logged.
        await using var stack = await fixture.Stack.IsolatedAsync(workers: 0);
        var admin = stack.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("token in log"));
        var link = await admin.CreatePortalLinkAsync(app.Id, new PortalLinkIn());
        await using (var connection = new Npgsql.NpgsqlConnection(stack.DatabaseConnectionString))
        {
            await connection.OpenAsync();
            await using var hide = new Npgsql.NpgsqlCommand("ALTER TABLE portal_links RENAME TO portal_links_hidden", connection);
            await hide.ExecuteNonQueryAsync();
        }
        using var http = new HttpClient();
        using var response = await http.GetAsync(link.Url);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        var token = link.Url[(link.Url.LastIndexOf('/') + 1)..];
        string log = "";
        await Eventually.HoldsAsync(() =>
        {
            using var stream = new FileStream(TestStack.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            log = new StreamReader(stream).ReadToEnd();
            return log.Contains("/dashboard/portal/***", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), "the failed redemption is logged, its path redacted");
        Assert.DoesNotContain(token, log, StringComparison.Ordinal);
    }
}
