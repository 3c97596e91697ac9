using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Webhooks.Client;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>
/// Svix's surface (<c>/api/v1/app</c>, <c>/api/v1/event-type</c>, …) in its own shapes: errors, pagination, idempotency,
/// tenancy and raw delivery. The npm SDK's whole flow is <see cref="SvixSdkTests"/>.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class SvixApiTests(StackFixture fixture)
{
    private async Task<HttpClient> HttpAsync(string? key = null) => (await fixture.Stack.ApiAsync()).Http(key);

    private static string Uid() => "svix-" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, object body, HttpStatusCode expected, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("idempotency-key", idempotencyKey);
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<string> AppAsync(HttpClient http, string? uid = null) =>
        (await PostAsync(http, "/api/v1/app", new { name = "Svix shapes", uid = uid ?? Uid() }, HttpStatusCode.Created)).GetProperty("id").GetString()!;

    /// <summary>Removes a deployment-wide event type: every application of the suite's stack sees the catalogue.</summary>
    private static async Task ExpungeAsync(HttpClient http, string name)
    {
        using var response = await http.DeleteAsync($"/api/v1/event-type/{name}?expunge=true");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    private static void AssertError(JsonElement body, string code)
    {
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Errors_are_in_svix_shape_on_its_paths_and_problem_details_on_ours()
    {
        using var http = await HttpAsync();
        using var anonymous = new HttpClient { BaseAddress = http.BaseAddress };

        using (var missing = await http.GetAsync($"/api/v1/app/{Uid()}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            AssertError(await JsonOf(missing), "not_found");
        }
        using (var unsigned = await anonymous.GetAsync("/api/v1/app"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
            AssertError(await JsonOf(unsigned), "authentication_failed");
        }
        using (var unknown = await http.GetAsync("/api/v1/app/x/no-such-thing"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            AssertError(await JsonOf(unknown), "not_found");
        }
        using (var cloudOnly = await http.GetAsync("/api/v1/app/app_x/endpoint/ep_y/stats"))
        {
            Assert.Equal(HttpStatusCode.NotImplemented, cloudOnly.StatusCode);
            var body = await JsonOf(cloudOnly);
            AssertError(body, "not_implemented");
            Assert.Contains("endpoint.getStats (GET /api/v1/app/{id}/endpoint/{id}/stats)", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var health = await anonymous.GetAsync("/api/v1/health"))
        {
            Assert.Equal(HttpStatusCode.NoContent, health.StatusCode);
        }
        // Our own routes keep RFC 9457 problems.
        using (var ours = await http.GetAsync($"/api/v1/apps/{Uid()}"))
        {
            Assert.Equal("application/problem+json", ours.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Invalid_input_is_a_422_naming_where_the_field_was()
    {
        using var http = await HttpAsync();
        var app = await AppAsync(http);

        var body = await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "not a url" }, HttpStatusCode.UnprocessableEntity);
        var item = Assert.Single(body.GetProperty("detail").EnumerateArray());
        Assert.Equal(["body", "url"], item.GetProperty("loc").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("value_error", item.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(item.GetProperty("msg").GetString()));

        using (var limit = await http.GetAsync($"/api/v1/app/{app}/msg?limit=0"))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, limit.StatusCode);
            var detail = Assert.Single((await JsonOf(limit)).GetProperty("detail").EnumerateArray());
            Assert.Equal(["query", "limit"], detail.GetProperty("loc").EnumerateArray().Select(l => l.GetString()));
        }

        using (var malformed = await http.PostAsync($"/api/v1/app/{app}/msg", new StringContent("{\"eventType\": 7", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, malformed.StatusCode);
            var detail = (await JsonOf(malformed)).GetProperty("detail")[0];
            Assert.Equal("value_error.jsondecode", detail.GetProperty("type").GetString());
        }

        // What Svix accepts and this server cannot do is refused by name, not ignored.
        var scheduled = await PostAsync(http, $"/api/v1/app/{app}/msg",
            new { eventType = "a.b", payload = new { n = 1 }, deliverAt = DateTimeOffset.UtcNow.AddHours(1) }, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(scheduled.GetProperty("detail").EnumerateArray(), d => d.GetProperty("loc")[1].GetString() == "deliverAt");
        var throttled = await PostAsync(http, "/api/v1/app", new { name = "x", throttleRate = 5 }, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("throttleRate", throttled.GetProperty("detail")[0].GetProperty("loc")[1].GetString());

        foreach (var bad in new object[]
                 {
                     new { eventType = "a.b", payload = new[] { 1 } },
                     new { eventType = "a b", payload = new { n = 1 } },
                     new { eventType = "a.b", payload = new { n = 1 }, eventId = "msg_taken" },
                     new { eventType = "a.b", payload = new { n = "\0" } },
                     new { eventType = "a.b", payload = new { n = 1 }, channels = new string?[] { null } },
                 })
        {
            await PostAsync(http, $"/api/v1/app/{app}/msg", bad, HttpStatusCode.UnprocessableEntity);
        }
        await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/h", headers = new Dictionary<string, string> { ["X-Note"] = "café" } },
            HttpStatusCode.UnprocessableEntity);
        await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/h", uid = "ep_reserved" }, HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task Uids_and_event_ids_are_unique_and_a_delete_frees_the_uid()
    {
        using var http = await HttpAsync();
        var uid = Uid();
        var app = await AppAsync(http, uid);
        AssertError(await PostAsync(http, "/api/v1/app", new { name = "again", uid }, HttpStatusCode.Conflict), "conflict");
        var existing = await PostAsync(http, "/api/v1/app?get_if_exists=true", new { name = "again", uid }, HttpStatusCode.OK);
        Assert.Equal(app, existing.GetProperty("id").GetString());

        var endpoint = await PostAsync(http, $"/api/v1/app/{uid}/endpoint", new { url = "https://example.com/a", uid = "primary" }, HttpStatusCode.Created);
        AssertError(await PostAsync(http, $"/api/v1/app/{uid}/endpoint", new { url = "https://example.com/b", uid = "primary" }, HttpStatusCode.Conflict),
            "conflict");
        using (var byUid = await http.GetAsync($"/api/v1/app/{uid}/endpoint/primary"))
        {
            Assert.Equal(endpoint.GetProperty("id").GetString(), (await JsonOf(byUid)).GetProperty("id").GetString());
        }
        using (await http.DeleteAsync($"/api/v1/app/{uid}/endpoint/primary"))
        {
        }
        await PostAsync(http, $"/api/v1/app/{uid}/endpoint", new { url = "https://example.com/c", uid = "primary" }, HttpStatusCode.Created);

        var message = await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 1 }, eventId = "evt-1" }, HttpStatusCode.Accepted);
        AssertError(await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 2 }, eventId = "evt-1" }, HttpStatusCode.Conflict),
            "conflict");
        using var byEventId = await http.GetAsync($"/api/v1/app/{app}/msg/evt-1");
        var found = await JsonOf(byEventId);
        Assert.Equal(message.GetProperty("id").GetString(), found.GetProperty("id").GetString());
        Assert.Equal(1, found.GetProperty("payload").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task An_idempotency_key_gives_back_the_first_answer_even_to_concurrent_repeats()
    {
        using var http = await HttpAsync();
        var app = await AppAsync(http);
        var key = "auto_" + Guid.NewGuid();
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(n =>
            PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n } }, HttpStatusCode.Accepted, key)));
        Assert.Single(answers.Select(a => a.GetProperty("id").GetString()).Distinct());
        using (var list = await http.GetAsync($"/api/v1/app/{app}/msg"))
        {
            Assert.Single((await JsonOf(list)).GetProperty("data").EnumerateArray());
        }

        // Another key is another message; a refused request keeps nothing, so the same key with a fixed body runs.
        var other = await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 9 } }, HttpStatusCode.Accepted, key + "-2");
        Assert.NotEqual(answers[0].GetProperty("id").GetString(), other.GetProperty("id").GetString());
        var refusedKey = "auto_" + Guid.NewGuid();
        await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = 1 }, HttpStatusCode.UnprocessableEntity, refusedKey);
        await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 10 } }, HttpStatusCode.Accepted, refusedKey);

        // The kept answers are per credential: an application key using the same key gets its own. (A message also keeps
        // the key itself, per application, so a retry whose first answer was lost finds it: see below.)
        var admin = await fixture.Stack.AdminClientAsync();
        var appKey = await admin.CreateApiKeyAsync(new ApiKeyIn("svix idempotency", app));
        using var tenant = await HttpAsync(appKey.Key);
        var endpointKey = "auto_" + Guid.NewGuid();
        var ours = await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/a" }, HttpStatusCode.Created, endpointKey);
        Assert.Equal(ours.GetProperty("id").GetString(),
            (await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/a" }, HttpStatusCode.Created, endpointKey)).GetProperty("id").GetString());
        var theirs = await PostAsync(tenant, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/a" }, HttpStatusCode.Created, endpointKey);
        Assert.NotEqual(ours.GetProperty("id").GetString(), theirs.GetProperty("id").GetString());

        using var bad = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/app/{app}/msg")
        {
            Content = JsonContent.Create(new { eventType = "a.b", payload = new { n = 1 } }),
        };
        bad.Headers.TryAddWithoutValidation("idempotency-key", new string('k', 300));
        using var refused = await http.SendAsync(bad);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        AssertError(await JsonOf(refused), "generic_error");
    }

    [Fact]
    public async Task An_application_key_stays_in_its_application_and_reads_the_catalogue_without_changing_it()
    {
        using var http = await HttpAsync();
        var mine = await AppAsync(http);
        var theirs = await AppAsync(http);
        var type = "catalogue." + Guid.NewGuid().ToString("N")[..8];
        await PostAsync(http, "/api/v1/event-type", new { name = type, description = "Deployment-wide" }, HttpStatusCode.Created);
        try
        {
            await TenantSeesTheCatalogueAsync(http, mine, theirs, type);
        }
        finally
        {
            await ExpungeAsync(http, type);
        }
    }

    private async Task TenantSeesTheCatalogueAsync(HttpClient http, string mine, string theirs, string type)
    {
        var admin = await fixture.Stack.AdminClientAsync();
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("svix tenant", mine));
        using var tenant = await HttpAsync(key.Key);

        using (var list = await tenant.GetAsync("/api/v1/app?limit=250"))
        {
            Assert.Equal([mine], (await JsonOf(list)).GetProperty("data").EnumerateArray().Select(a => a.GetProperty("id").GetString()));
        }
        using (var other = await tenant.GetAsync($"/api/v1/app/{theirs}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }
        using (var otherMessages = await tenant.GetAsync($"/api/v1/app/{theirs}/msg"))
        {
            Assert.Equal(HttpStatusCode.NotFound, otherMessages.StatusCode);
        }
        AssertError(await PostAsync(tenant, "/api/v1/app", new { name = "mine too" }, HttpStatusCode.Forbidden), "insufficient access");
        AssertError(await PostAsync(tenant, "/api/v1/event-type", new { name = "tenant.type", description = "no" }, HttpStatusCode.Forbidden),
            "insufficient access");
        using (var read = await tenant.GetAsync($"/api/v1/event-type/{type}"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
        // The catalogue shows through the application's own event-type routes, and cannot be changed there.
        var api = (await fixture.Stack.ApiAsync()).Client(key.Key);
        var seen = await api.GetEventTypeAsync(mine, type);
        Assert.True(seen.DeploymentWide);
        Assert.Contains((await api.ListEventTypesAsync(mine, limit: 250)).Data, t => t.Name == type);
        var refused = await Assert.ThrowsAnyAsync<Refit.ApiException>(() => api.UpdateEventTypeAsync(mine, type, new EventTypeUpdateIn("changed")));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
    }

    [Fact]
    public async Task Pages_go_forward_with_iterator_and_back_with_prev_iterator()
    {
        using var http = await HttpAsync();
        var app = await AppAsync(http);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = $"https://example.com/{i}" }, HttpStatusCode.Created)).GetProperty("id").GetString()!);
        }
        async Task<JsonElement> PageAsync(string query)
        {
            using var response = await http.GetAsync($"/api/v1/app/{app}/endpoint?{query}");
            return await JsonOf(response);
        }
        static string[] Ids(JsonElement page) => page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToArray();

        // Endpoints list newest first by default.
        var first = await PageAsync("limit=2");
        Assert.Equal([ids[4], ids[3]], Ids(first));
        Assert.False(first.GetProperty("done").GetBoolean());
        var second = await PageAsync("limit=2&iterator=" + first.GetProperty("iterator").GetString());
        Assert.Equal([ids[2], ids[1]], Ids(second));
        var back = await PageAsync("limit=2&iterator=" + second.GetProperty("prevIterator").GetString());
        Assert.Equal([ids[4], ids[3]], Ids(back));
        var last = await PageAsync("limit=2&iterator=" + second.GetProperty("iterator").GetString());
        Assert.Equal([ids[0]], Ids(last));
        Assert.True(last.GetProperty("done").GetBoolean());
        Assert.Equal(ids, Ids(await PageAsync("order=ascending")));
        using var badOrder = await http.GetAsync($"/api/v1/app/{app}/endpoint?order=sideways");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badOrder.StatusCode);
    }

    [Fact]
    public async Task Put_creates_then_replaces_and_patch_changes_only_what_it_names()
    {
        using var http = await HttpAsync();
        var uid = Uid();
        using (var created = await http.PutAsJsonAsync($"/api/v1/app/{uid}", new { name = "First", uid, metadata = new { team = "a" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using (var replaced = await http.PutAsJsonAsync($"/api/v1/app/{uid}", new { name = "Second", uid }))
        {
            Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
            var body = await JsonOf(replaced);
            Assert.Equal("Second", body.GetProperty("name").GetString());
            Assert.Empty(body.GetProperty("metadata").EnumerateObject());
        }
        using (var patched = await http.PatchAsJsonAsync($"/api/v1/app/{uid}", new { metadata = new { team = "b" } }))
        {
            var body = await JsonOf(patched);
            Assert.Equal(("Second", uid, "b"), (body.GetProperty("name").GetString(), body.GetProperty("uid").GetString(),
                body.GetProperty("metadata").GetProperty("team").GetString()));
        }
        using (var nulled = await http.PatchAsync($"/api/v1/app/{uid}", new StringContent("{\"name\": null}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, nulled.StatusCode);
        }
        using (var cleared = await http.PatchAsync($"/api/v1/app/{uid}", new StringContent("{\"uid\": null}", Encoding.UTF8, "application/json")))
        {
            var body = await JsonOf(cleared);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("uid").ValueKind);
        }
        using var gone = await http.GetAsync($"/api/v1/app/{uid}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task A_svix_message_arrives_as_its_payload_bytes_with_svix_headers_and_our_sdk_accepts_it()
    {
        // A stack of its own: a worker of the shared one would deliver the other tests' messages, which expect none to run.
        await using var stack = await fixture.Stack.IsolatedAsync();
        using var http = stack.Api.Http();
        var app = await AppAsync(http);
        var secret = WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret, o => o.AcceptUnwrappedBodies = true, "invoice.paid");
        await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = receiver.WebhookUrl.ToString(), secret }, HttpStatusCode.Created);

        // Spacing, key order and escapes as sent: Svix delivers the payload's text itself.
        const string payload = "{ \"type\" : \"invoice.paid\",\n  \"amount\":  12.50, \"note\": \"caf\\u00e9 ✓\" }";
        using var sent = await http.PostAsync($"/api/v1/app/{app}/msg",
            new StringContent($"{{\"eventType\":\"invoice.paid\",\"payload\":{payload}}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var id = (await JsonOf(sent)).GetProperty("id").GetString();

        await Eventually.HoldsAsync(() => !receiver.Handled.IsEmpty, TimeSpan.FromSeconds(30), "the receiver SDK handled the Svix message");
        var request = Assert.Single(receiver.Requests);
        Assert.Equal(payload, Encoding.UTF8.GetString(request.Body));
        Assert.Equal(id, request.Headers["svix-id"]);
        Assert.Equal(request.Headers["webhook-id"], request.Headers["svix-id"]);
        Assert.Equal(request.Headers["webhook-timestamp"], request.Headers["svix-timestamp"]);
        Assert.Equal(request.Headers["webhook-signature"], request.Headers["svix-signature"]);
        var handled = Assert.Single(receiver.Handled);
        Assert.Equal(("invoice.paid", 12.50m), (handled.EventType, handled.Data.GetProperty("amount").GetDecimal()));

        // The attempt is on record in Svix's shape (the worker records it just after the answer: wait for it).
        JsonElement recorded = default;
        await Eventually.HoldsAsync(async () =>
        {
            using var attempts = await http.GetAsync($"/api/v1/app/{app}/attempt/msg/{id}");
            recorded = (await JsonOf(attempts)).GetProperty("data");
            return recorded.GetArrayLength() > 0;
        }, TimeSpan.FromSeconds(30), "the attempt is recorded");
        var attempt = Assert.Single(recorded.EnumerateArray());
        Assert.Equal((0, "success", 0, 204), (attempt.GetProperty("status").GetInt32(), attempt.GetProperty("statusText").GetString(),
            attempt.GetProperty("triggerType").GetInt32(), attempt.GetProperty("responseStatusCode").GetInt32()));
    }

    [Fact]
    public async Task A_message_to_a_missing_application_creates_it_from_its_application_field()
    {
        using var http = await HttpAsync();
        var uid = Uid();
        AssertError(await PostAsync(http, $"/api/v1/app/{uid}/msg", new { eventType = "a.b", payload = new { n = 1 } }, HttpStatusCode.NotFound), "not_found");
        await PostAsync(http, $"/api/v1/app/{uid}/msg", new { eventType = "a.b", payload = new { n = 1 }, application = new { name = "Auto", uid = "other" } },
            HttpStatusCode.UnprocessableEntity);
        await PostAsync(http, $"/api/v1/app/{uid}/msg", new { eventType = "a.b", payload = new { n = 1 }, application = new { name = "Auto", uid } },
            HttpStatusCode.Accepted);
        using var app = await http.GetAsync($"/api/v1/app/{uid}");
        Assert.Equal("Auto", (await JsonOf(app)).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Wrong_types_case_twins_and_bad_names_are_422s_not_500s()
    {
        using var http = await HttpAsync();
        var app = await AppAsync(http);
        var endpoint = (await PostAsync(http, $"/api/v1/app/{app}/endpoint", new { url = "https://example.com/h" }, HttpStatusCode.Created))
            .GetProperty("id").GetString();
        var type = "patch." + Guid.NewGuid().ToString("N")[..8];
        await PostAsync(http, "/api/v1/event-type", new { name = type, description = "d" }, HttpStatusCode.Created);
        try
        {
            await PatchesAreRefusedAsync(http, app, endpoint!, type);
        }
        finally
        {
            await ExpungeAsync(http, type);
        }
    }

    private async Task PatchesAreRefusedAsync(HttpClient http, string app, string endpoint, string type)
    {

        foreach (var (path, body) in new[]
                 {
                     ($"/api/v1/app/{app}", "{\"name\": 5}"),
                     ($"/api/v1/app/{app}", "{\"metadata\": {\"a\": 1}}"),
                     ($"/api/v1/app/{app}", "{\"metadata\": null}"),
                     ($"/api/v1/app/{app}", "{\"metadata\": {\"a\": null}}"),
                     ($"/api/v1/app/{app}/endpoint/{endpoint}", "{\"url\": 5}"),
                     ($"/api/v1/app/{app}/endpoint/{endpoint}", "{\"disabled\": \"yes\"}"),
                     ($"/api/v1/event-type/{type}", "{\"deprecated\": \"x\"}"),
                     ($"/api/v1/app/{app}/endpoint/{endpoint}/headers", "{\"headers\": {\"X-A\": \"1\", \"x-a\": \"2\"}}"),
                 })
        {
            using var response = await http.PatchAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"PATCH {path} {body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.NotEmpty((await JsonOf(response)).GetProperty("detail").EnumerateArray());
        }
        using (var twins = await http.PutAsJsonAsync($"/api/v1/app/{app}/endpoint/{endpoint}/headers",
                   new { headers = new Dictionary<string, string> { ["X-A"] = "1", ["x-a"] = "2" } }))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, twins.StatusCode);
        }
        await PostAsync(http, "/api/v1/event-type", new { name = "-leading", description = "d" }, HttpStatusCode.UnprocessableEntity);
        await PostAsync(http, "/api/v1/app", new { name = "newline", uid = "abc\n" }, HttpStatusCode.UnprocessableEntity);
        await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 1 }, channels = new[] { "ch\n" } }, HttpStatusCode.UnprocessableEntity);

        // A body that is not JSON, or a method the path does not take: said so, not 'no such operation'.
        using (var plain = await http.PostAsync($"/api/v1/app/{app}/msg", new StringContent("eventType=a", Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);
            AssertError(await JsonOf(plain), "generic_error");
        }
        using (var method = await http.DeleteAsync("/api/v1/app"))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
        }
        // Paths match whatever their case: so do Svix's error shapes.
        using var shouted = await http.GetAsync($"/API/V1/APP/{Uid()}");
        Assert.Equal(HttpStatusCode.NotFound, shouted.StatusCode);
        AssertError(await JsonOf(shouted), "not_found");
    }

    [Fact]
    public async Task Concurrent_get_or_create_calls_all_get_the_one_application()
    {
        using var http = await HttpAsync();
        var uid = Uid();
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await http.PostAsJsonAsync("/api/v1/app?get_if_exists=true", new { name = "race", uid });
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return (await JsonOf(response)).GetProperty("id").GetString();
        }));
        Assert.Single(answers.Distinct());
    }

    [Fact]
    public async Task A_message_retried_after_its_answer_was_lost_is_stored_once()
    {
        using var http = await HttpAsync();
        var app = await AppAsync(http);
        var key = "auto_" + Guid.NewGuid();
        var first = await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 1 } }, HttpStatusCode.Accepted, key);
        // As if the first answer had been cut off before it was kept (a deadline, a dropped connection): the retry runs again.
        await using (var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString))
        {
            await connection.OpenAsync();
            await using var forget = new Npgsql.NpgsqlCommand("DELETE FROM idempotent_responses WHERE key_hash = @hash", connection);
            forget.Parameters.AddWithValue("hash", System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"admin\n{key}\n/api/v1/app/{app}/msg")));
            Assert.Equal(1, await forget.ExecuteNonQueryAsync());
        }
        var retried = await PostAsync(http, $"/api/v1/app/{app}/msg", new { eventType = "a.b", payload = new { n = 1 } }, HttpStatusCode.Accepted, key);
        Assert.Equal(first.GetProperty("id").GetString(), retried.GetProperty("id").GetString());
        using var list = await http.GetAsync($"/api/v1/app/{app}/msg");
        Assert.Single((await JsonOf(list)).GetProperty("data").EnumerateArray());
    }
}
