using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>
/// Every route, fed malformed, oversized, missing, wrong-typed and hostile input: never a 500, always problem
/// details, and nothing stored or changed.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class HostileInputTests(StackFixture fixture)
{
    private const string Hostile = "'; DROP TABLE messages;-- \u0000\r\nX-Injected: 1 \u202Eü🙂";

    /// <summary>A route: method, path (with {app} {ep} {msg} {type} {key} {attempt}), a valid body if it takes one.</summary>
    private sealed record Route(string Method, string Path, string? ValidBody = null, bool AllOptional = false, string[]? Query = null);

    private static readonly string[] Page = ["limit", "iterator"];
    private static readonly string[] DeliveryFilters = ["limit", "iterator", "status", "since"];

    private static readonly Route[] Routes =
    [
        new("POST", "/api/v1/apps", """{"name":"x"}"""),
        new("GET", "/api/v1/apps", Query: Page),
        new("GET", "/api/v1/apps/{app}"),
        new("PUT", "/api/v1/apps/{app}", """{"name":"x"}"""),
        new("DELETE", "/api/v1/apps/{app}"),
        new("GET", "/api/v1/apps/{app}/stats"),
        new("POST", "/api/v1/apps/{app}/event-types", """{"name":"a.b"}"""),
        new("GET", "/api/v1/apps/{app}/event-types", Query: [.. Page, "includeArchived"]),
        new("GET", "/api/v1/apps/{app}/event-types/{type}"),
        new("PUT", "/api/v1/apps/{app}/event-types/{type}", """{"description":"d"}""", AllOptional: true),
        new("POST", "/api/v1/apps/{app}/event-types/{type}/archive"),
        new("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/new"}"""),
        new("GET", "/api/v1/apps/{app}/endpoints", Query: Page),
        new("GET", "/api/v1/apps/{app}/endpoints/{ep}"),
        new("PUT", "/api/v1/apps/{app}/endpoints/{ep}", """{"url":"https://example.com/changed"}"""),
        new("DELETE", "/api/v1/apps/{app}/endpoints/{ep}"),
        new("POST", "/api/v1/apps/{app}/endpoints/{ep}/disable", "{}", AllOptional: true),
        new("POST", "/api/v1/apps/{app}/endpoints/{ep}/enable"),
        new("GET", "/api/v1/apps/{app}/endpoints/{ep}/secret"),
        new("POST", "/api/v1/apps/{app}/endpoints/{ep}/secret/rotate", "{}", AllOptional: true),
        new("POST", "/api/v1/apps/{app}/endpoints/{ep}/recover", """{"since":"2026-01-01T00:00:00Z"}"""),
        new("POST", "/api/v1/apps/{app}/endpoints/{ep}/test", """{"eventType":"a.b"}"""),
        new("GET", "/api/v1/apps/{app}/endpoints/{ep}/stats"),
        new("GET", "/api/v1/apps/{app}/endpoints/{ep}/deliveries", Query: DeliveryFilters),
        new("GET", "/api/v1/apps/{app}/endpoints/{ep}/attempts", Query: DeliveryFilters),
        new("POST", "/api/v1/apps/{app}/messages", """{"eventType":"a.b","payload":{}}"""),
        new("POST", "/api/v1/apps/{app}/messages/batch", """{"messages":[{"eventType":"a.b","payload":{}}]}"""),
        new("GET", "/api/v1/apps/{app}/messages", Query: [.. Page, "since", "until", "eventType", "channel"]),
        new("GET", "/api/v1/apps/{app}/messages/{msg}"),
        new("GET", "/api/v1/apps/{app}/messages/{msg}/deliveries", Query: DeliveryFilters),
        new("GET", "/api/v1/apps/{app}/messages/{msg}/attempts", Query: DeliveryFilters),
        new("POST", "/api/v1/apps/{app}/messages/{msg}/endpoints/{ep}/resend"),
        new("GET", "/api/v1/apps/{app}/attempts/{attempt}"),
        new("POST", "/api/v1/api-keys", """{"name":"k"}"""),
        new("GET", "/api/v1/api-keys"),
        new("DELETE", "/api/v1/api-keys/{key}"),
    ];

    // Bodies no route may accept: unreadable, of the wrong shape, every field of the wrong type, or hostile strings.
    private static IEnumerable<(string What, string Body)> BadBodies(Route route)
    {
        yield return ("empty", "");
        yield return ("truncated", "{\"name\":");
        yield return ("array", "[]");
        yield return ("string", "\"text\"");
        yield return ("number", "42");
        yield return ("deep nesting", "{\"name\":" + new string('[', 10_000) + new string(']', 10_000) + "}");
        yield return ("invalid utf-8", "\xFF\xFE{\"name\":\"\xC3\x28\"}");
        yield return ("wrong types", """
            {"name":123,"uid":[],"url":[],"description":5,"eventType":{},"eventTypes":"x","channels":7,"payload":"x",
             "secret":false,"key":1,"reason":[],"since":"yesterday","messages":"none","schema":"x","archived":"yes",
             "rateLimitPerSecond":"fast","timeoutSeconds":1e400,"headers":[],"metadata":1,"retrySchedule":{},"applicationId":[]}
            """);
        yield return ("hostile strings", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = Hostile, ["uid"] = Hostile, ["url"] = "https://example.com/" + Hostile, ["description"] = Hostile,
            ["eventType"] = Hostile, ["eventTypes"] = new[] { Hostile }, ["channels"] = new[] { Hostile }, ["payload"] = Hostile,
            ["secret"] = Hostile, ["key"] = Hostile, ["reason"] = Hostile, ["since"] = Hostile, ["applicationId"] = Hostile,
            ["messages"] = new[] { new { eventType = Hostile, payload = new { } } }, ["schema"] = Hostile,
            ["headers"] = new Dictionary<string, string> { [Hostile] = Hostile },
        }));
        // Over the 1 MiB payload limit and every field's length, under the server's 8 MiB request limit.
        var big = new string('a', 1100 * 1024);
        var longer = new string('a', 5000);
        yield return ("oversized", $$$"""{"name":"{{{longer}}}","url":"https://example.com/{{{longer}}}","eventType":"a.b","payload":{"x":"{{{big}}}"},"description":"{{{longer}}}","reason":"{{{longer}}}","since":"{{{longer}}}","key":"{{{longer}}}","messages":[{"eventType":"a.b","payload":{"x":"{{{big}}}"}}]}""");
        if (!route.AllOptional)
        {
            yield return ("nulls", """{"name":null,"url":null,"eventType":null,"payload":null,"since":null,"messages":null}""");
            yield return ("missing fields", "{}");
        }
    }

    private static readonly string[] HostileIds =
    [
        "%27%20OR%201%3D1--",
        "..%2F..%2Fetc%2Fpasswd",
        "%C3%BC%F0%9F%99%82",
        new string('a', 3000),
        "app_0000000000000000000000000u",
        "%E2%80%AE",
    ];

    private static readonly string[] HostileQueries =
    [
        "?limit=abc", "?limit=-1", "?limit=99999999999", "?iterator=%27%20OR%201%3D1--", "?since=%00", "?since=tomorrow",
        "?until=1e999", "?status=%F0%9F%99%82", "?eventType=" + Uri.EscapeDataString(Hostile), "?channel=%0D%0AX-Injected:1",
        "?includeArchived=maybe",
    ];

    [Fact]
    public async Task Every_route_refuses_bad_input_with_problem_details_and_stores_nothing()
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("hostile", "hostile-" + Guid.NewGuid().ToString("N")[..8]));
        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("a.b", "kept", JsonSerializer.SerializeToElement(new { type = "object" })));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/kept", Headers: new Dictionary<string, string> { ["x-a"] = "b" }));
        var message = await api.PublishAsync(app.Id, new MessageIn("a.b", JsonSerializer.SerializeToElement(new { n = 1 })));
        var key = await api.CreateApiKeyAsync(new ApiKeyIn("kept", app.Id));
        var ids = new Dictionary<string, string>
        {
            ["{app}"] = app.Id, ["{ep}"] = endpoint.Id, ["{msg}"] = message.Id, ["{type}"] = "a.b", ["{key}"] = key.Id,
            ["{attempt}"] = "atmpt_01M83QVZ8PEHMARF83NFG2E3JN",
        };
        var before = await SnapshotAsync(app.Id);
        using var http = service.Http();
        http.Timeout = TimeSpan.FromSeconds(60);
        var failures = new List<string>();
        var sent = 0;

        async Task CheckAsync(string method, string path, string? body, string what, Action<HttpRequestMessage>? tweak = null)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(Encoding.Latin1.GetBytes(body)) { Headers = { ContentType = new("application/json") } };
                if (what != "invalid utf-8")
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }
            }
            tweak?.Invoke(request);
            using var response = await http.SendAsync(request);
            sent++;
            var status = (int)response.StatusCode;
            var type = response.Content.Headers.ContentType?.MediaType;
            if (status >= 500 || status < 400 || type != "application/problem+json")
            {
                failures.Add($"{method} {path[..Math.Min(path.Length, 120)]} [{what}] -> {status} {type}: {(await response.Content.ReadAsStringAsync())[..Math.Min(200, (int)(response.Content.Headers.ContentLength ?? 200))]}");
            }
        }

        string Fill(string path, string? hostileFor = null, string? hostile = null)
        {
            foreach (var (name, value) in ids)
            {
                path = path.Replace(name, name == hostileFor ? hostile! : value);
            }
            return path;
        }

        foreach (var route in Routes)
        {
            // Bad bodies on real resources.
            if (route.ValidBody is not null)
            {
                foreach (var (what, body) in BadBodies(route))
                {
                    await CheckAsync(route.Method, Fill(route.Path), body, what);
                }
            }
            // Hostile ids in the path, with a body that would otherwise be fine.
            foreach (var placeholder in ids.Keys.Where(route.Path.Contains))
            {
                foreach (var hostile in HostileIds)
                {
                    await CheckAsync(route.Method, Fill(route.Path, placeholder, hostile), route.ValidBody, "id " + hostile[..Math.Min(hostile.Length, 20)]);
                }
            }
            // Hostile query strings on lists.
            if (route.Query is not null)
            {
                foreach (var query in HostileQueries.Where(q => route.Query.Contains(q[1..q.IndexOf('=', StringComparison.Ordinal)])))
                {
                    await CheckAsync("GET", Fill(route.Path) + query, null, "query " + query);
                }
            }
        }
        // Headers: a hostile idempotency key, and hostile credentials.
        await CheckAsync("POST", Fill("/api/v1/apps/{app}/messages"), """{"eventType":"a.b","payload":{}}""", "idempotency-key",
            r => r.Headers.TryAddWithoutValidation("idempotency-key", new string('k', 300)));
        await CheckAsync("GET", "/api/v1/apps", null, "bearer", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer ' OR 1=1 --"));
        await CheckAsync("GET", "/api/v1/apps", null, "long bearer", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('x', 5000)));
        await CheckAsync("GET", "/api/v1/apps", null, "basic", r => r.Headers.TryAddWithoutValidation("Authorization", "Basic " + Hostile[..10]));

        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} requests were not refused with problem details:\n" + string.Join("\n", failures.Take(40)));
        Assert.Equal(before, await SnapshotAsync(app.Id));
        Assert.True(sent > 400, $"only {sent} requests were sent");
    }

    // JSON every parser here accepts but Postgres cannot store (jsonb holds no U+0000, no unpaired surrogate, and no
    // number beyond numeric's 131072 digits before the point and 16383 after): it reached the INSERT and answered 500.
    [Theory]
    [InlineData("messages", """{"eventType":"a.b","payload":{"a":"x\u0000"}}""", "payload")]
    [InlineData("messages", """{"eventType":"a.b","payload":{"\u0000":1}}""", "payload")]
    [InlineData("messages", """{"eventType":"a.b","payload":{"a":["\uD800"]}}""", "payload")]
    [InlineData("messages", """{"eventType":"a.b","payload":{"\uDC00x":1}}""", "payload")]
    [InlineData("messages/batch", """{"messages":[{"eventType":"a.b","payload":{"a":"\uDBFF"}}]}""", "messages[0].payload")]
    [InlineData("endpoints/{ep}/test", """{"eventType":"a.b","payload":{"a":"\u0000"}}""", "payload")]
    [InlineData("event-types", """{"name":"c.d","schema":{"description":"\u0000"}}""", "schema")]
    [InlineData("event-types", """{"name":"c.d","schema":{"properties":{"\uD83D":{}}}}""", "schema")]
    [InlineData("messages", """{"eventType":"a.b","payload":{"a":1e131072}}""", "payload")]
    [InlineData("messages", """{"eventType":"a.b","payload":{"a":[-1e-16384]}}""", "payload")]
    [InlineData("messages/batch", """{"messages":[{"eventType":"a.b","payload":{"a":0.1e-16383}}]}""", "messages[0].payload")]
    [InlineData("event-types", """{"name":"c.d","schema":{"minimum":1e200000}}""", "schema")]
    public async Task Json_that_the_database_cannot_store_is_refused_with_400_naming_the_field(string path, string body, string field)
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("unstorable json"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/unstorable", TimeoutSeconds: 1));
        var before = await SnapshotAsync(app.Id);

        using var response = await service.Http().PostAsync($"/api/v1/apps/{app.Id}/{path.Replace("{ep}", endpoint.Id, StringComparison.Ordinal)}",
            new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(field, problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Equal(before, await SnapshotAsync(app.Id));
        // A surrogate pair is a character like any other, and the largest and finest numbers the database keeps are kept.
        await api.PublishAsync(app.Id, new MessageIn("a.b", JsonDocument.Parse("""{"a":"\uD83D\uDE00","b":1e131071,"c":-1e-16383,"d":0e200000}""").RootElement));
    }

    /// <summary>Row counts of every table, and the full text of the application's rows.</summary>
    private async Task<string> SnapshotAsync(string appId)
    {
        await using var connection = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT concat_ws(' | ',
                (SELECT count(*) FROM applications), (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL), (SELECT count(*) FROM event_types),
                (SELECT count(*) FROM endpoints), (SELECT count(*) FROM messages), (SELECT count(*) FROM deliveries),
                (SELECT count(*) FROM delivery_attempts),
                (SELECT a::text FROM applications a WHERE id = @app),
                (SELECT string_agg(t::text, ',') FROM event_types t WHERE application_id = @app),
                (SELECT string_agg(e::text, ',') FROM endpoints e WHERE application_id = @app),
                (SELECT string_agg(d::text, ',') FROM deliveries d WHERE application_id = @app))
            """, connection);
        command.Parameters.AddWithValue("app", appId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
