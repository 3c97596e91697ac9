using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

[Collection(StackFixture.Collection)]
public sealed class ApiTests(StackFixture fixture)
{
    private async Task<(IWebhooksApi Api, HttpClient Http)> ClientsAsync()
    {
        var service = await fixture.Stack.ApiAsync();
        return (service.Client(), service.Http());
    }

    private static async Task<JsonElement> ProblemOf(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Creates_an_application_and_finds_it_by_id_and_by_uid()
    {
        var (api, _) = await ClientsAsync();
        var uid = "acme-" + Guid.NewGuid().ToString("N")[..8];
        var created = await api.CreateApplicationAsync(new ApplicationIn("Acme", uid));
        Assert.StartsWith("app_", created.Id, StringComparison.Ordinal);
        Assert.Equal(created, await api.GetApplicationAsync(created.Id));
        Assert.Equal(created, await api.GetApplicationAsync(uid));
    }

    [Fact]
    public async Task Endpoint_without_a_secret_gets_a_generated_one()
    {
        var (api, _) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("secrets"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", EventTypes: ["order.created"]));
        Assert.StartsWith("whsec_", endpoint.Secret, StringComparison.Ordinal);
        Assert.True(Receiver.Sdk.WebhookSecret.TryParse(endpoint.Secret, out _, out _));
        var fetched = await api.GetEndpointAsync(app.Id, endpoint.Id);
        Assert.Equal(["order.created"], fetched.EventTypes);
        Assert.DoesNotContain("whsec_", JsonSerializer.Serialize(fetched), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishing_with_the_same_idempotency_key_returns_the_first_message()
    {
        var (api, http) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("idempotent"));
        var payload = JsonSerializer.SerializeToElement(new { n = 1 });
        var first = await api.PublishAsync(app.Id, new MessageIn("order.created", payload, IdempotencyKey: "k-1"));
        var again = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 2 }), IdempotencyKey: "k-1"));
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(1, again.Payload.GetProperty("n").GetInt32());

        // The header form is the same key space.
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app.Id}/messages")
        {
            Content = JsonContent.Create(new { eventType = "order.created", payload = new { n = 3 } }),
        };
        request.Headers.Add("idempotency-key", "k-1");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(first.Id, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Publish_answers_202_with_the_message()
    {
        var (api, http) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("publish"));
        using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages", new { eventType = "order.created", payload = new { n = 1 } });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var message = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("msg_", message.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(new Uri($"/api/v1/apps/{app.Id}/messages/{message.GetProperty("id").GetString()}", UriKind.Relative), response.Headers.Location);
    }

    [Fact]
    public async Task Batch_publish_stores_all_messages_with_their_deliveries_or_none()
    {
        var (api, http) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("batch"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/a"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/b", EventTypes: ["invoice.paid"]));
        var batch = Enumerable.Range(0, 300)
            .Select(n => new MessageIn(n % 3 == 0 ? "invoice.paid" : "order.created", JsonSerializer.SerializeToElement(new { n })))
            .ToList();
        var published = await api.PublishBatchAsync(app.Id, new MessageBatchIn(batch));
        Assert.Equal(300, published.Data.Select(m => m.Id).Distinct().Count());
        Assert.Equal(2, (await api.ListDeliveriesAsync(app.Id, published.Data[0].Id)).Data.Count);
        Assert.Single((await api.ListDeliveriesAsync(app.Id, published.Data[1].Id)).Data);
        // Stored: 300 messages, each to the endpoint for everything and every third to the invoice endpoint too.
        async Task<(long, long)> StoredAsync() => (
            await CountAsync("SELECT count(*) FROM messages WHERE application_id = @app", ("app", app.Id)),
            await CountAsync("SELECT count(*) FROM deliveries WHERE application_id = @app", ("app", app.Id)));
        Assert.Equal((300L, 400L), await StoredAsync());

        // One bad message refuses the whole batch, naming it; nothing of it is stored.
        var bad = batch.Take(5).Append(new MessageIn("order.created", JsonSerializer.SerializeToElement(new[] { 1 }))).ToList();
        using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", new MessageBatchIn(bad));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("messages[5].payload", (await ProblemOf(response)).GetProperty("errors").EnumerateObject().Select(e => e.Name));

        using var tooMany = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch",
            new MessageBatchIn(Enumerable.Repeat(batch[0], 501).ToList()));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal((300L, 400L), await StoredAsync());
    }

    [Fact]
    public async Task Requests_without_a_valid_key_answer_401_problem_details()
    {
        var service = await fixture.Stack.ApiAsync();
        using var anonymous = new HttpClient { BaseAddress = service.Url };
        using var missing = await anonymous.GetAsync("/api/v1/apps");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(401, (await ProblemOf(missing)).GetProperty("status").GetInt32());

        using var wrong = service.Http("wh_not_a_key");
        using var refused = await wrong.GetAsync("/api/v1/apps");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task Unknown_application_answers_404_problem_details()
    {
        var (api, _) = await ClientsAsync();
        var error = await Assert.ThrowsAnyAsync<ApiException>(() => api.GetApplicationAsync("app_01M83QVZ8PEHMARF83NFG2E3JN"));
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
    }

    public static TheoryData<string, string, string> InvalidBodies => new()
    {
        { "/api/v1/apps", "{}", "name" },
        { "/api/v1/apps", "{\"name\":\"\"}", "name" },
        { "/api/v1/apps", "{\"name\":\"a\\u0000b\"}", "name" },
        { "/api/v1/apps", "{\"name\":\"x\",\"uid\":\"has space\"}", "uid" },
        { "/api/v1/apps", "{\"name\":5}", "name" },
        { "/api/v1/apps", "{\"name\":\"x\"", "body" },
        { "ENDPOINTS", "{\"url\":\"ftp://example.com\"}", "url" },
        { "ENDPOINTS", "{\"url\":\"not a url\"}", "url" },
        { "ENDPOINTS", "{\"url\":\"https://example.com\",\"secret\":\"whsec_short\"}", "secret" },
        { "ENDPOINTS", "{\"url\":\"https://example.com\",\"timeoutSeconds\":0}", "timeoutSeconds" },
        { "ENDPOINTS", "{\"url\":\"https://example.com\",\"headers\":{\"webhook-id\":\"x\"}}", "headers[0]" },
        { "ENDPOINTS", "{\"url\":\"https://example.com\",\"eventTypes\":[\"bad type!\"]}", "eventTypes[0]" },
        { "MESSAGES", "{\"eventType\":\"order.created\",\"payload\":[1]}", "payload" },
        { "MESSAGES", "{\"eventType\":\"order.created\",\"payload\":\"text\"}", "payload" },
        { "MESSAGES", "{\"eventType\":\"\",\"payload\":{}}", "eventType" },
        { "MESSAGES", "{\"eventType\":\"x'; DROP TABLE messages;--\",\"payload\":{}}", "eventType" },
        { "MESSAGES", "{\"payload\":{}}", "eventType" },
        { "/api/v1/api-keys", "{\"name\":\"k\",\"applicationId\":\"a\\u0000b\"}", "applicationId" },
        { "/api/v1/api-keys", "{\"name\":\"k\",\"applicationId\":\"ü\"}", "applicationId" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Invalid_bodies_answer_400_problem_details_naming_the_field_and_store_nothing(string path, string body, string field)
    {
        var (api, http) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("validation"));
        path = path.Replace("ENDPOINTS", $"/api/v1/apps/{app.Id}/endpoints").Replace("MESSAGES", $"/api/v1/apps/{app.Id}/messages");
        // The tests of this collection run one at a time: nothing else adds applications meanwhile.
        var applications = await CountAsync("SELECT count(*) FROM applications");
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ProblemOf(response);
        Assert.StartsWith("https://webhooks-aspire.dev/problems/", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        var errors = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToList();
        Assert.Contains(field, errors);

        Assert.Empty((await api.ListMessagesAsync(app.Id)).Data);
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);
        Assert.Equal(applications, await CountAsync("SELECT count(*) FROM applications"));
    }

    private async Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_batch_whose_insert_fails_stores_nothing_of_it()
    {
        // A database of its own, where a trigger refuses one message of the batch at insert (after validation passed).
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 0);
        await isolated.QueryAsync<int>("""
            CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.payload LIKE '%boom%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_boom();
            SELECT 1
            """);
        var api = isolated.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("failing batch"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/batch"));
        var batch = Enumerable.Range(0, 5).Select(n => new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n })))
            .Append(new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = "boom" })))
            .ToList();

        using var http = isolated.Api.Http();
        using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app.Id}/messages/batch", new MessageBatchIn(batch));
        Assert.True((int)response.StatusCode >= 500, $"answered {(int)response.StatusCode}");
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages"));
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries"));

        // The same batch without the refused message is stored whole.
        await api.PublishBatchAsync(app.Id, new MessageBatchIn(batch.Take(5).ToList()));
        Assert.Equal(5L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages"));
        Assert.Equal(5L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries"));
    }

    [Fact]
    public async Task Single_publishes_waiting_together_are_written_in_one_statement_and_each_fails_only_for_itself()
    {
        // One writer, held 1 s by a slow message, so the publishes sent meanwhile wait together; each statement's size is
        // recorded; a trigger refuses any message whose payload says "boom" (after validation passed).
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 0, apiSettings: new Dictionary<string, string?> { ["Webhooks__PublishWriters"] = "1" });
        await isolated.QueryAsync<int>("""
            CREATE TABLE statement_sizes (size int NOT NULL);
            CREATE SEQUENCE boom_attempts;
            CREATE FUNCTION slow_or_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.payload LIKE '%slow%' THEN PERFORM pg_sleep(1); END IF;
                IF NEW.payload LIKE '%boom%' THEN PERFORM nextval('boom_attempts'); RAISE EXCEPTION 'refused by the test'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER slow_or_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION slow_or_boom();
            CREATE FUNCTION statement_size() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO statement_sizes SELECT count(*) FROM inserted;
                RETURN NULL;
            END $$;
            CREATE TRIGGER statement_size AFTER INSERT ON messages REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION statement_size();
            SELECT 1
            """);
        var api = isolated.Client();
        // Two applications in one statement: each message fans out to its own application's endpoints, by its own filter.
        var a = await api.CreateApplicationAsync(new ApplicationIn("grouped a"));
        var b = await api.CreateApplicationAsync(new ApplicationIn("grouped b"));
        var endpointA = await api.CreateEndpointAsync(a.Id, new EndpointIn("https://example.com/a"));
        var endpointB = await api.CreateEndpointAsync(b.Id, new EndpointIn("https://example.com/b", Filter: JsonDocument.Parse("""{"n":{"$gte":10}}""").RootElement.Clone()));

        async Task<List<(string App, HttpStatusCode Status, string Body)>> PublishWhileHeldAsync(bool withBoom)
        {
            using var http = isolated.Api.Http();
            var slow = http.PostAsJsonAsync($"/api/v1/apps/{a.Id}/messages", new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = -1, note = "slow" })));
            await Task.Delay(300);
            var sends = Enumerable.Range(0, 20).Select(async n =>
            {
                var app = n % 2 == 0 ? a.Id : b.Id;
                object payload = withBoom && n == 7 ? new { n, note = "boom" } : new { n };
                using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app}/messages", new MessageIn("order.created", JsonSerializer.SerializeToElement(payload)));
                return (app, response.StatusCode, await response.Content.ReadAsStringAsync());
            }).ToList();
            var answers = (await Task.WhenAll(sends)).ToList();
            using var first = await slow;
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            return answers;
        }

        var grouped = await PublishWhileHeldAsync(withBoom: false);
        Assert.All(grouped, g => Assert.Equal(HttpStatusCode.Accepted, g.Status));
        Assert.True(await isolated.QueryAsync<int>("SELECT max(size) FROM statement_sizes") > 1, "the publishes waiting were not written together");
        foreach (var (app, _, body) in grouped)
        {
            var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
            Assert.Equal(app, await isolated.QueryAsync<string>("SELECT application_id FROM messages WHERE id = @id", ("id", id)));
            var n = JsonDocument.Parse(body).RootElement.GetProperty("payload").GetProperty("n").GetInt32();
            var expected = app == a.Id ? endpointA.Id : n >= 10 ? endpointB.Id : null;
            Assert.Equal(expected is null ? 0L : 1L, await isolated.QueryAsync<long>("SELECT count(*) FROM deliveries WHERE message_id = @id", ("id", id)));
            if (expected is not null)
            {
                Assert.Equal(expected, await isolated.QueryAsync<string>("SELECT endpoint_id FROM deliveries WHERE message_id = @id", ("id", id)));
            }
        }

        // One refused message among them fails alone: the other 19 are stored with their deliveries.
        var mixed = await PublishWhileHeldAsync(withBoom: true);
        Assert.Single(mixed, m => (int)m.Status >= 500);
        Assert.Equal(19, mixed.Count(m => m.Status == HttpStatusCode.Accepted));
        Assert.Equal(2L + 20 + 19, await isolated.QueryAsync<long>("SELECT count(*) FROM messages"));
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM messages WHERE payload LIKE '%boom%'"));
        // The refused message was tried in its group, then alone (a sequence outlives the rollbacks).
        Assert.True(await isolated.QueryAsync<long>("SELECT last_value FROM boom_attempts") >= 2, "the group was not split");
    }

    [Fact]
    public async Task An_idempotency_key_is_scoped_to_its_application()
    {
        var (api, _) = await ClientsAsync();
        var a = await api.CreateApplicationAsync(new ApplicationIn("idempotency a"));
        var b = await api.CreateApplicationAsync(new ApplicationIn("idempotency b"));
        var first = await api.PublishAsync(a.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 }), IdempotencyKey: "shared-key"));
        var other = await api.PublishAsync(b.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 2 }), IdempotencyKey: "shared-key"));

        Assert.NotEqual(first.Id, other.Id);
        Assert.Equal(2, other.Payload.GetProperty("n").GetInt32());
        Assert.Equal([other.Id], (await api.ListMessagesAsync(b.Id)).Data.Select(m => m.Id));
        Assert.Equal([first.Id], (await api.ListMessagesAsync(a.Id)).Data.Select(m => m.Id));
    }

    [Fact]
    public async Task Concurrent_publishes_with_one_idempotency_key_store_one_message()
    {
        var (api, _) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("idempotency race"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/race"));
        const int rounds = 10;
        for (var round = 0; round < rounds; round++)
        {
            var key = $"race-{round}";
            var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(n =>
                api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { round, n }), IdempotencyKey: key))));
            Assert.Single(answers.Select(m => m.Id).Distinct());
        }
        Assert.Equal(rounds, await CountAsync("SELECT count(*) FROM messages WHERE application_id = @app", ("app", app.Id)));
        Assert.Equal(rounds, await CountAsync("SELECT count(*) FROM deliveries WHERE application_id = @app", ("app", app.Id)));
    }

    [Theory]
    [InlineData("/api/v1/apps?limit=abc", "limit")]
    [InlineData("/api/v1/apps?limit=99999999999999", "limit")]
    public async Task Malformed_query_parameters_answer_400_naming_the_parameter(string path, string field)
    {
        var (_, http) = await ClientsAsync();
        using var response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ProblemOf(response);
        Assert.Contains(field, problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
    }

    [Fact]
    public async Task Deeply_nested_payload_is_refused_without_a_500()
    {
        var (api, http) = await ClientsAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("nesting"));
        var nested = new string('[', 5000) + new string(']', 5000);
        var body = "{\"eventType\":\"order.created\",\"payload\":{\"x\":" + nested + "}}";
        using var response = await http.PostAsync($"/api/v1/apps/{app.Id}/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await ProblemOf(response);
    }

    [Fact]
    public async Task OpenApi_document_and_the_Refit_client_cover_the_same_routes()
    {
        var (_, http) = await ClientsAsync();
        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        // Svix's surface (its own tag) is for Svix's SDKs, not this client.
        var documented = document.GetProperty("paths").EnumerateObject()
            .Where(p => p.Name.StartsWith("/api/v1/", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject()
                .Where(op => op.Value.GetProperty("tags").EnumerateArray().All(t => t.GetString() != "Svix"))
                .Select(op => $"{op.Name.ToUpperInvariant()} {Normalize(p.Name)}"))
            .Order()
            .ToList();
        var client = typeof(IWebhooksApi).GetMethods()
            .Select(m => m.GetCustomAttributes(typeof(HttpMethodAttribute), false).Cast<HttpMethodAttribute>().Single())
            .Select(a => $"{a.Method.Method} {Normalize(a.Path)}")
            .Order()
            .ToList();
        Assert.True(documented.Count >= 35, $"only {documented.Count} operations documented");
        Assert.Equal(documented, client);

        // Parameter names differ between the two ({appId} vs {appId}, {name} vs {eventTypeName}): compare the shape.
        static string Normalize(string path) => System.Text.RegularExpressions.Regex.Replace(path, "{[^}]+}", "{}");
    }
}
