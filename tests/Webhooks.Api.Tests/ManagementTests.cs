using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>Update and delete, event types with schemas, and the filtered lists, through the Refit client.</summary>
[Collection(StackFixture.Collection)]
public sealed class ManagementTests(StackFixture fixture)
{
    private static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);

    private static async Task<ApiException> FailsAsync(HttpStatusCode status, Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<ApiException>(call);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal("application/problem+json", error.ContentHeaders?.ContentType?.MediaType);
        return error;
    }

    private static async Task<List<string>> ErrorFieldsAsync(ApiException error)
    {
        using var problem = JsonDocument.Parse(error.Content!);
        return problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToList();
    }

    [Fact]
    public async Task An_application_is_updated_and_deleted_with_everything_of_it()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var uid = "upd-" + Guid.NewGuid().ToString("N")[..8];
        var app = await api.CreateApplicationAsync(new ApplicationIn("before", uid));
        var other = await api.CreateApplicationAsync(new ApplicationIn("other", "taken-" + Guid.NewGuid().ToString("N")[..8]));

        var updated = await api.UpdateApplicationAsync(uid, new ApplicationIn("after", uid, [0, 5, 60]));
        Assert.Equal(("after", uid), (updated.Name, updated.Uid));
        Assert.Equal([0, 5, 60], updated.RetrySchedule!);
        Assert.True(updated.UpdatedAt > app.UpdatedAt);
        await FailsAsync(HttpStatusCode.Conflict, () => api.UpdateApplicationAsync(app.Id, new ApplicationIn("after", other.Uid)));

        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/gone"));
        var message = await api.PublishAsync(app.Id, new MessageIn("order.created", Json(new { n = 1 })));
        var key = await api.CreateApiKeyAsync(new ApiKeyIn("app key", app.Id));
        var service = await fixture.Stack.ApiAsync();
        await FailsAsync(HttpStatusCode.Forbidden, () => service.Client(key.Key).DeleteApplicationAsync(app.Id));

        await api.DeleteApplicationAsync(uid);
        await FailsAsync(HttpStatusCode.NotFound, () => api.GetApplicationAsync(app.Id));
        await FailsAsync(HttpStatusCode.NotFound, () => api.GetEndpointAsync(app.Id, endpoint.Id));
        await FailsAsync(HttpStatusCode.NotFound, () => api.GetMessageAsync(app.Id, message.Id));
        await FailsAsync(HttpStatusCode.NotFound, () => api.DeleteApplicationAsync(app.Id));
        Assert.DoesNotContain(app.Id, (await api.ListApplicationsAsync(limit: 250)).Data.Select(a => a.Id));
        // Nothing was in flight: the rows are gone now, the key with them, and the uid is free again.
        await FailsAsync(HttpStatusCode.Unauthorized, () => service.Client(key.Key).ListApplicationsAsync());
        var again = await api.CreateApplicationAsync(new ApplicationIn("reborn", uid));
        Assert.NotEqual(app.Id, again.Id);
        Assert.Equal(again.Id, (await api.GetApplicationAsync(uid)).Id);
    }

    [Fact]
    public async Task Event_types_are_created_listed_updated_and_archived()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("event types"));
        var schema = Json(new { type = "object", required = new[] { "id" }, properties = new { id = new { type = "string" } } });
        var created = await api.CreateEventTypeAsync(app.Id, new EventTypeIn("invoice.paid", "An invoice was paid.", schema));
        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("invoice.created"));
        Assert.StartsWith("evt_", created.Id, StringComparison.Ordinal);
        Assert.Equal("string", created.Schema!.Value.GetProperty("properties").GetProperty("id").GetProperty("type").GetString());
        await FailsAsync(HttpStatusCode.Conflict, () => api.CreateEventTypeAsync(app.Id, new EventTypeIn("invoice.paid")));

        Assert.Equal(["invoice.created", "invoice.paid"], (await api.ListEventTypesAsync(app.Id)).Data.Select(t => t.Name));
        var page = await api.ListEventTypesAsync(app.Id, limit: 1);
        Assert.False(page.Done);
        Assert.Equal(["invoice.paid"], (await api.ListEventTypesAsync(app.Id, iterator: page.Iterator)).Data.Select(t => t.Name));

        var updated = await api.UpdateEventTypeAsync(app.Id, "invoice.paid", new EventTypeUpdateIn("Paid.", null));
        Assert.Null(updated.Schema);
        Assert.Equal("Paid.", (await api.GetEventTypeAsync(app.Id, "invoice.paid")).Description);

        var archived = await api.ArchiveEventTypeAsync(app.Id, "invoice.created");
        Assert.True(archived.Archived);
        Assert.Equal(["invoice.paid"], (await api.ListEventTypesAsync(app.Id)).Data.Select(t => t.Name));
        Assert.Equal(2, (await api.ListEventTypesAsync(app.Id, includeArchived: true)).Data.Count);

        // An archived type takes no new messages; un-archiving restores it.
        var refused = await FailsAsync(HttpStatusCode.UnprocessableEntity,
            () => api.PublishAsync(app.Id, new MessageIn("invoice.created", Json(new { n = 1 }))));
        Assert.Equal(["eventType"], await ErrorFieldsAsync(refused));
        await api.UpdateEventTypeAsync(app.Id, "invoice.created", new EventTypeUpdateIn(Archived: false));
        await api.PublishAsync(app.Id, new MessageIn("invoice.created", Json(new { n = 1 })));
        await FailsAsync(HttpStatusCode.NotFound, () => api.GetEventTypeAsync(app.Id, "no.such.type"));
    }

    [Fact]
    public async Task A_schema_added_changed_or_removed_applies_to_the_very_next_publish()
    {
        // The constrained event types are cached per application for a few seconds: every change through the API empties it.
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("schema changes"));
        await api.PublishAsync(app.Id, new MessageIn("order.placed", Json(new { id = 1 })));
        var strict = Json(new { type = "object", properties = new { id = new { type = "string" } } });
        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("order.placed", Schema: strict));
        Assert.Equal(["payload.id"], await ErrorFieldsAsync(await FailsAsync(HttpStatusCode.UnprocessableEntity,
            () => api.PublishAsync(app.Id, new MessageIn("order.placed", Json(new { id = 1 }))))));
        await api.UpdateEventTypeAsync(app.Id, "order.placed", new EventTypeUpdateIn(Schema: Json(new { type = "object" })));
        await api.PublishAsync(app.Id, new MessageIn("order.placed", Json(new { id = 1 })));
        await api.ArchiveEventTypeAsync(app.Id, "order.placed");
        await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishAsync(app.Id, new MessageIn("order.placed", Json(new { id = 1 }))));
    }

    [Fact]
    public async Task A_payload_that_does_not_match_its_schema_is_refused_with_422_naming_the_paths()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("schemas"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/schemas"));
        var schema = JsonDocument.Parse("""
            {
              "type": "object",
              "required": ["amount", "customer"],
              "properties": {
                "amount": { "type": "number", "minimum": 0 },
                "customer": { "type": "object", "required": ["email"], "properties": { "email": { "type": "string" } } },
                "lines": { "type": "array", "items": { "type": "object", "properties": { "sku": { "type": "string" } } } }
              }
            }
            """).RootElement;
        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("order.paid", Schema: schema));

        var good = await api.PublishAsync(app.Id, new MessageIn("order.paid", Json(new { amount = 5, customer = new { email = "a@example.com" } })));
        Assert.StartsWith("msg_", good.Id, StringComparison.Ordinal);

        var error = await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishAsync(app.Id,
            new MessageIn("order.paid", Json(new { amount = "five", customer = new { }, lines = new[] { new { sku = 7 } } }))));
        using (var problem = JsonDocument.Parse(error.Content!))
        {
            Assert.Equal("https://webhooks-aspire.dev/problems/payload-rejected", problem.RootElement.GetProperty("type").GetString());
        }
        Assert.Equal(["payload.amount", "payload.customer.email", "payload.lines[0].sku"], (await ErrorFieldsAsync(error)).Order());

        // In a batch, the failing message is named by its index, and nothing of the batch is stored.
        var before = (await api.ListMessagesAsync(app.Id)).Data.Count;
        var batch = await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishBatchAsync(app.Id, new MessageBatchIn(
            [new MessageIn("order.paid", Json(new { amount = 1, customer = new { email = "x" } })), new MessageIn("order.paid", Json(new { amount = -1, customer = new { email = "x" } }))])));
        Assert.Equal(["messages[1].payload.amount"], await ErrorFieldsAsync(batch));
        Assert.Equal(before, (await api.ListMessagesAsync(app.Id)).Data.Count);

        // A number larger than the schema library reads (beyond 64 bits) is refused, not a 500; one without a schema is kept.
        var huge = JsonDocument.Parse("""{"amount":99999999999999999999999999999999,"customer":{"email":"x"}}""").RootElement;
        Assert.Equal(["payload"], await ErrorFieldsAsync(await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishAsync(app.Id, new MessageIn("order.paid", huge)))));
        await api.PublishAsync(app.Id, new MessageIn("order.untyped", huge));

        // Types without a schema take any object.
        await api.PublishAsync(app.Id, new MessageIn("order.created", Json(new { anything = true })));
    }

    // Schemas whose $refs loop through applicators that check the same value again: evaluating them never ends
    // (and {"not":{"$ref":"#"}} overflowed the API's stack, killing the process).
    public static TheoryData<string> SchemasThatNeverGoIntoThePayload() => new()
    {
        """{"allOf":[{"$ref":"#"}]}""",
        """{"not":{"$ref":"#"}}""",
        """{"$ref":"#"}""",
        """{"anyOf":[{"$ref":"#/definitions/x"}],"definitions":{"x":{"not":{"$ref":"#"}}}}""",
        """{"type":"object","properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"oneOf":[{"$ref":"#/$defs/b"}]},"b":{"if":{"$ref":"#/$defs/a"}}}}""",
        """{"properties":{"a":{"allOf":[{"$ref":"#/properties/a"}]}}}""",
        string.Concat(Enumerable.Repeat("""{"allOf":[""", 20)) + "{}" + string.Concat(Enumerable.Repeat("]}", 20)),
    };

    [Theory]
    [MemberData(nameof(SchemasThatNeverGoIntoThePayload))]
    public async Task A_schema_that_refers_to_itself_in_place_is_refused_with_422_naming_schema(string schema)
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("self-referring schemas"));
        using var http = service.Http();

        using var created = await http.PostAsync($"/api/v1/apps/{app.Id}/event-types",
            new StringContent($$"""{"name":"a.b","schema":{{schema}}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, created.StatusCode);
        Assert.Equal("application/problem+json", created.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["schema"], (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Empty((await api.ListEventTypesAsync(app.Id, includeArchived: true)).Data);

        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("c.d"));
        using var updated = await http.PutAsync($"/api/v1/apps/{app.Id}/event-types/c.d",
            new StringContent($$"""{"schema":{{schema}}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, updated.StatusCode);
        Assert.Null((await api.GetEventTypeAsync(app.Id, "c.d")).Schema);
    }

    [Fact]
    public async Task A_schema_that_recurses_into_the_payload_validates_trees()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("tree schemas"));
        var schema = JsonDocument.Parse("""
            {
              "type": "object",
              "required": ["name"],
              "properties": {
                "name": { "type": "string" },
                "children": { "type": "array", "items": { "$ref": "#" } },
                "parent": { "$ref": "#/definitions/node" }
              },
              "definitions": { "node": { "allOf": [{ "$ref": "#" }] } }
            }
            """).RootElement;
        await api.CreateEventTypeAsync(app.Id, new EventTypeIn("tree.changed", Schema: schema));

        static object Tree(int depth, bool named) => depth == 0
            ? new { name = named ? "leaf" : null }
            : new { name = (string?)"node", children = new[] { Tree(depth - 1, named) } };
        await api.PublishAsync(app.Id, new MessageIn("tree.changed", Json(Tree(20, named: true))));
        await api.PublishAsync(app.Id, new MessageIn("tree.changed", Json(new { name = "child", parent = new { name = "root" } })));

        var error = await FailsAsync(HttpStatusCode.UnprocessableEntity, () =>
            api.PublishAsync(app.Id, new MessageIn("tree.changed", Json(Tree(2, named: false)))));
        Assert.Equal(["payload.children[0].children[0].name"], await ErrorFieldsAsync(error));
        await FailsAsync(HttpStatusCode.UnprocessableEntity, () =>
            api.PublishAsync(app.Id, new MessageIn("tree.changed", Json(new { name = "child", parent = new { name = 1 } }))));
    }

    // As they could be stored before such schemas were refused: evaluating the first overflowed the stack (the process
    // died), the others threw (500).
    [Theory]
    [InlineData("""{"not":{"$ref":"#"}}""")]
    [InlineData("""{"properties":{"a":{"multipleOf":0}}}""")]
    [InlineData("""{"properties":{"a":{"pattern":"["}}}""")]
    public async Task A_stored_schema_that_cannot_be_evaluated_refuses_its_messages_with_422_and_the_api_stays_up(string stored)
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("schema stored before the rule"));
        var type = await api.CreateEventTypeAsync(app.Id, new EventTypeIn("a.b", Schema: Json(new { type = "object" })));
        // Written behind the API's back (as by an older version), before any publish: the API's lookup cache only hears of
        // changes made through the API.
        await using (var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("UPDATE event_types SET schema = @schema::jsonb, updated_at = now() WHERE id = @id", connection);
            command.Parameters.AddWithValue("id", type.Id);
            command.Parameters.AddWithValue("schema", stored);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var error = await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishAsync(app.Id, new MessageIn("a.b", Json(new { a = 2.5 }))));
        Assert.Equal(["eventType"], await ErrorFieldsAsync(error));
        var batch = await FailsAsync(HttpStatusCode.UnprocessableEntity, () => api.PublishBatchAsync(app.Id,
            new MessageBatchIn([new MessageIn("other.type", Json(new { })), new MessageIn("a.b", Json(new { a = "x" }))])));
        Assert.Equal(["messages[1].eventType"], await ErrorFieldsAsync(batch));

        // The API is up, and stored none of them.
        Assert.Empty((await api.ListMessagesAsync(app.Id)).Data);
        using var health = await service.Http().GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Time_filters_at_the_ends_of_the_calendar_and_in_any_offset_filter_like_any_other()
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("edge dates"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/edges"));
        var first = await api.PublishAsync(app.Id, new MessageIn("a.b", Json(new { n = 1 })));
        var second = await api.PublishAsync(app.Id, new MessageIn("a.b", Json(new { n = 2 })));
        using var http = service.Http();

        async Task<List<string>> ListAsync(string path, string field = "id")
        {
            using var response = await http.GetAsync($"/api/v1/apps/{app.Id}/{path}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            return page.GetProperty("data").EnumerateArray().Select(m => m.GetProperty(field).GetString()!).ToList();
        }
        List<string> both = [second.Id, first.Id];
        Assert.Equal(both, await ListAsync("messages?since=0001-01-01T00:00:00Z"));
        Assert.Equal(both, await ListAsync("messages?until=9999-12-31T23:59:59Z"));
        Assert.Equal(both, await ListAsync("messages?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.9999999Z"));
        Assert.Empty(await ListAsync("messages?since=9999-12-31T23:59:59.9999999Z"));
        Assert.Empty(await ListAsync("messages?until=0001-01-01T00:00:00Z"));
        // The same instant written in another offset filters the same (the database takes UTC only).
        var at = second.CreatedAt.ToOffset(TimeSpan.FromHours(5)).ToString("yyyy-MM-ddTHH:mm:ss.ffffffzzz", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal([second.Id], await ListAsync("messages?since=" + Uri.EscapeDataString(at)));
        Assert.Equal([first.Id], await ListAsync("messages?until=" + Uri.EscapeDataString(at)));

        foreach (var since in new[] { "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", Uri.EscapeDataString(at) })
        {
            await ListAsync($"endpoints/{endpoint.Id}/attempts?since={since}");
            await ListAsync($"messages/{first.Id}/attempts?since={since}");
            var expected = since.StartsWith("0001", StringComparison.Ordinal) ? both : since.StartsWith("9999", StringComparison.Ordinal) ? [] : [second.Id];
            Assert.Equal(expected, await ListAsync($"endpoints/{endpoint.Id}/deliveries?since={since}", "messageId"));
        }
        Assert.Equal(0, (await api.RecoverAsync(app.Id, endpoint.Id, new RecoverIn(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(-7)).AddHours(-1)))).Requeued);
    }

    [Theory]
    [InlineData("""{"name":"a.b","schema":[1]}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"$ref":"http://169.254.169.254/latest/meta-data"}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"$ref":"file:///etc/passwd"}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"$ref":"#/definitions/missing"}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"properties":{"n":{"multipleOf":0}}}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"items":{"multipleOf":1e-400}}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"properties":{"s":{"pattern":"["}}}}""", "schema")]
    [InlineData("""{"name":"a.b","schema":{"patternProperties":{"(":{}}}}""", "schema")]
    [InlineData("""{"name":"bad name!"}""", "name")]
    [InlineData("""{"name":"a.b","description":"a\u0001b"}""", "description")]
    public async Task Invalid_event_types_answer_400_naming_the_field(string body, string field)
    {
        var service = await fixture.Stack.ApiAsync();
        var api = service.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("bad event types"));
        using var response = await service.Http().PostAsync($"/api/v1/apps/{app.Id}/event-types", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(field, problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Empty((await api.ListEventTypesAsync(app.Id, includeArchived: true)).Data);
    }

    [Fact]
    public async Task An_endpoint_is_updated_and_deleted()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("endpoint updates"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/v1", EventTypes: ["a.b"], RateLimitPerSecond: 5));

        var updated = await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn(
            "https://example.com/v2", "second version", ["c.d"], ["eu"], 50, 10, new Dictionary<string, string> { ["x-team"] = "billing" }));
        Assert.Equal(("https://example.com/v2", "second version", 50, 10), (updated.Url, updated.Description, updated.RateLimitPerSecond, updated.TimeoutSeconds));
        Assert.Equal(["c.d"], updated.EventTypes);
        Assert.Equal(["eu"], updated.Channels);
        Assert.Equal("billing", updated.Headers["x-team"]);
        Assert.Equal(endpoint.Secret, (await api.GetEndpointSecretAsync(app.Id, endpoint.Id)).Key);

        var invalid = await FailsAsync(HttpStatusCode.BadRequest,
            () => api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("gopher://example.com", TimeoutSeconds: 600, CircuitBreakerThreshold: 0, MaxInFlight: 0)));
        Assert.Equal(["circuitBreakerThreshold", "maxInFlight", "timeoutSeconds", "url"], (await ErrorFieldsAsync(invalid)).Order());
        Assert.Equal("https://example.com/v2", (await api.GetEndpointAsync(app.Id, endpoint.Id)).Url);

        // The circuit breaker's threshold is the endpoint's own once set; its state is the worker's to move, closed here.
        Assert.Null(updated.CircuitBreakerThreshold);
        Assert.Equal(CircuitStates.Closed, updated.CircuitState);
        var tuned = await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/v2", CircuitBreakerThreshold: 20));
        Assert.Equal(20, tuned.CircuitBreakerThreshold);
        Assert.Equal((CircuitStates.Closed, (DateTimeOffset?)null, (DateTimeOffset?)null), (tuned.CircuitState, tuned.CircuitOpenedAt, tuned.CircuitRetryAt));
        await FailsAsync(HttpStatusCode.BadRequest,
            () => api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/v2", CircuitBreakerThreshold: 1001)));
        // The in-flight cap likewise (null: the worker's default), 1 to 1000.
        Assert.Null(updated.MaxInFlight);
        Assert.Equal(64, (await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/v2", MaxInFlight: 64))).MaxInFlight);
        Assert.Equal(["maxInFlight"], await ErrorFieldsAsync(await FailsAsync(HttpStatusCode.BadRequest,
            () => api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/v2", MaxInFlight: 1001)))));
        Assert.Empty((await api.ListEndpointHistoryAsync(app.Id, endpoint.Id)).Data);
        await FailsAsync(HttpStatusCode.BadRequest, () => api.ListEndpointHistoryAsync(app.Id, endpoint.Id, iterator: "not-a-page"));

        // Deleted: gone from reads and from fan-out.
        await api.DeleteEndpointAsync(app.Id, endpoint.Id);
        await FailsAsync(HttpStatusCode.NotFound, () => api.GetEndpointAsync(app.Id, endpoint.Id));
        await FailsAsync(HttpStatusCode.NotFound, () => api.DeleteEndpointAsync(app.Id, endpoint.Id));
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);
        var message = await api.PublishAsync(app.Id, new MessageIn("c.d", Json(new { n = 1 }), ["eu"]));
        Assert.Empty((await api.GetMessageAsync(app.Id, message.Id)).Deliveries!);
    }

    [Fact]
    public async Task Messages_are_listed_newest_first_by_event_type_channel_and_time_with_a_cursor()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("message lists"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/lists"));
        var first = await api.PublishAsync(app.Id, new MessageIn("order.created", Json(new { n = 0 }), ["eu"]));
        await Task.Delay(20);
        var middle = DateTimeOffset.UtcNow;
        await Task.Delay(20);
        var rest = new List<MessageOut>();
        for (var n = 1; n <= 6; n++)
        {
            rest.Add(await api.PublishAsync(app.Id, new MessageIn(n % 2 == 0 ? "order.created" : "order.paid", Json(new { n }), n % 3 == 0 ? ["us"] : ["eu"])));
        }
        var all = new[] { first }.Concat(rest).ToList();

        // Newest first, page by page, every message once.
        var seen = new List<string>();
        string? iterator = null;
        do
        {
            var page = await api.ListMessagesAsync(app.Id, new MessageQuery(Limit: 3, Iterator: iterator));
            Assert.True(page.Data.Count <= 3);
            seen.AddRange(page.Data.Select(m => m.Id));
            iterator = page.Done ? null : page.Iterator;
        }
        while (iterator is not null);
        Assert.Equal(all.Select(m => m.Id).Reverse(), seen);

        Assert.Equal(all.Where(m => m.EventType == "order.paid").Select(m => m.Id).Reverse(),
            (await api.ListMessagesAsync(app.Id, new MessageQuery(EventType: "order.paid"))).Data.Select(m => m.Id));
        Assert.Equal(all.Where(m => m.Channels.Contains("us")).Select(m => m.Id).Reverse(),
            (await api.ListMessagesAsync(app.Id, new MessageQuery(Channel: "us"))).Data.Select(m => m.Id));
        Assert.Equal(rest.Select(m => m.Id).Reverse(), (await api.ListMessagesAsync(app.Id, new MessageQuery(Since: middle))).Data.Select(m => m.Id));
        Assert.Equal([first.Id], (await api.ListMessagesAsync(app.Id, new MessageQuery(Until: middle))).Data.Select(m => m.Id));

        // One message carries its deliveries; the endpoint's deliveries list it, filtered by status.
        var fetched = await api.GetMessageAsync(app.Id, first.Id);
        Assert.Equal(endpoint.Id, Assert.Single(fetched.Deliveries!).EndpointId);
        var pending = await api.ListEndpointDeliveriesAsync(app.Id, endpoint.Id, new DeliveryQuery(Status: "pending", Limit: 250));
        Assert.Equal(all.Select(m => m.Id).Reverse(), pending.Data.Select(d => d.MessageId));
        Assert.Empty((await api.ListEndpointDeliveriesAsync(app.Id, endpoint.Id, new DeliveryQuery(Status: "succeeded"))).Data);
        var paged = await api.ListEndpointDeliveriesAsync(app.Id, endpoint.Id, new DeliveryQuery(Limit: 4));
        var next = await api.ListEndpointDeliveriesAsync(app.Id, endpoint.Id, new DeliveryQuery(Limit: 4, Iterator: paged.Iterator));
        Assert.Equal(all.Select(m => m.Id).Reverse(), paged.Data.Concat(next.Data).Select(d => d.MessageId));
        Assert.True(next.Done);
    }

    [Theory]
    [InlineData("messages?since=yesterday", "since")]
    [InlineData("messages?limit=0", "limit")]
    [InlineData("messages?limit=251", "limit")]
    [InlineData("messages?iterator=' OR 1=1 --", "iterator")]
    [InlineData("messages?eventType=%00", "eventType")]
    [InlineData("messages?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until")]
    [InlineData("endpoints/ep_01M83QVZ8PEHMARF83NFG2E3JN/deliveries?status=lost", "status")]
    [InlineData("endpoints/ep_01M83QVZ8PEHMARF83NFG2E3JN/deliveries?iterator=abc", "iterator")]
    [InlineData("endpoints/ep_01M83QVZ8PEHMARF83NFG2E3JN/attempts?status=pending", "status")]
    [InlineData("event-types?limit=-5", "limit")]
    [InlineData("endpoints?limit=1000", "limit")]
    public async Task Malformed_list_queries_answer_400_naming_the_parameter(string path, string field)
    {
        var service = await fixture.Stack.ApiAsync();
        var app = await service.Client().CreateApplicationAsync(new ApplicationIn("queries"));
        using var response = await service.Http().GetAsync($"/api/v1/apps/{app.Id}/{path}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(field, problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
    }

    [Fact]
    public async Task An_idempotency_key_past_its_window_is_released_to_a_new_message_even_in_a_batch()
    {
        // A window of 0 hours: every earlier use of a key is already out of it.
        await using var api = await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["Webhooks__IdempotencyWindowHours"] = "0" });
        var client = api.Client();
        var app = await client.CreateApplicationAsync(new ApplicationIn("idempotency window"));
        var first = await client.PublishAsync(app.Id, new MessageIn("a.b", Json(new { n = 1 }), IdempotencyKey: "k"));
        var batch = await client.PublishBatchAsync(app.Id, new MessageBatchIn([
            new MessageIn("a.b", Json(new { n = 2 }), IdempotencyKey: "k"),
            new MessageIn("a.b", Json(new { n = 3 }), IdempotencyKey: "other")]));
        Assert.NotEqual(first.Id, batch.Data[0].Id);
        Assert.Null((await client.GetMessageAsync(app.Id, first.Id)).IdempotencyKey);
        Assert.Equal("k", (await client.GetMessageAsync(app.Id, batch.Data[0].Id)).IdempotencyKey);

        // Within the window (the shared API keeps 24 h), a batch returns the first messages for known keys, in one call.
        var shared = await fixture.Stack.AdminClientAsync();
        var again = await shared.PublishBatchAsync(app.Id, new MessageBatchIn([
            new MessageIn("a.b", Json(new { n = 4 }), IdempotencyKey: "other"),
            new MessageIn("a.b", Json(new { n = 5 }), IdempotencyKey: "k"),
            new MessageIn("a.b", Json(new { n = 6 }), IdempotencyKey: "new")]));
        Assert.Equal([batch.Data[1].Id, batch.Data[0].Id], again.Data.Take(2).Select(m => m.Id));
        Assert.Equal(3, again.Data[0].Payload.GetProperty("n").GetInt32());
        Assert.Equal(4, (await shared.ListMessagesAsync(app.Id)).Data.Count);
    }

    [Fact]
    public async Task Application_stats_count_the_last_24_hours_of_that_application_only()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("stats"));
        var other = await api.CreateApplicationAsync(new ApplicationIn("other stats"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/a"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/b", EventTypes: ["b.only"]));
        await api.CreateEndpointAsync(other.Id, new EndpointIn("https://example.com/other"));
        await api.PublishBatchAsync(app.Id, new MessageBatchIn([.. Enumerable.Range(0, 3).Select(n => new MessageIn("a.b", Json(new { n }))),
            new MessageIn("b.only", Json(new { n = 9 }))]));
        await api.PublishAsync(other.Id, new MessageIn("a.b", Json(new { n = 1 })));

        // No worker runs in this test process: everything published is pending, and due.
        var stats = await api.GetApplicationStatsAsync(app.Id);
        Assert.Equal(new Dictionary<string, long> { ["pending"] = 5 }, stats.Deliveries);
        Assert.Equal(5, stats.DueBacklog);
        Assert.Equal(0, stats.Attempts);
        Assert.Null(stats.SuccessRate);
        Assert.Equal(24, stats.Hours.Count);
        Assert.True(stats.Hours[^1].Hour <= DateTimeOffset.UtcNow && stats.Hours[^1].Hour > DateTimeOffset.UtcNow.AddHours(-1));
    }

    [Fact]
    public async Task A_message_fans_out_to_the_endpoints_whose_event_types_and_channels_match()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("fan-out"));
        var all = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/all"));
        var orders = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/orders", EventTypes: ["order.created", "order.paid"]));
        var eu = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/eu", Channels: ["eu"]));
        var euOrders = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/eu-orders", EventTypes: ["order.created"], Channels: ["eu", "uk"]));
        var disabled = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/disabled"));
        await api.DisableEndpointAsync(app.Id, disabled.Id, new DisableEndpointIn());
        var deleted = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/deleted"));
        await api.DeleteEndpointAsync(app.Id, deleted.Id);

        async Task<string[]> TargetsAsync(string eventType, params string[] channels)
        {
            var message = await api.PublishAsync(app.Id, new MessageIn(eventType, Json(new { n = 1 }), channels));
            return (await api.GetMessageAsync(app.Id, message.Id)).Deliveries!.Select(d => d.EndpointId).Order().ToArray();
        }

        Assert.Equal(new[] { all.Id, orders.Id, disabled.Id }.Order(), await TargetsAsync("order.created"));
        Assert.Equal(new[] { all.Id, orders.Id, eu.Id, euOrders.Id, disabled.Id }.Order(), await TargetsAsync("order.created", "uk", "eu"));
        Assert.Equal(new[] { all.Id, eu.Id, disabled.Id }.Order(), await TargetsAsync("invoice.paid", "eu"));
        Assert.Equal(new[] { all.Id, orders.Id, disabled.Id }.Order(), await TargetsAsync("order.paid", "us"));

        // The disabled endpoint's delivery is kept, parked (not due) until it is enabled.
        var message = await api.PublishAsync(app.Id, new MessageIn("order.paid", Json(new { n = 2 })));
        var parked = Assert.Single((await api.GetMessageAsync(app.Id, message.Id)).Deliveries!, d => d.EndpointId == disabled.Id);
        Assert.Equal("pending", parked.Status);
        Assert.Null(parked.NextAttemptAt);
        Assert.NotNull(Assert.Single((await api.GetMessageAsync(app.Id, message.Id)).Deliveries!, d => d.EndpointId == all.Id).NextAttemptAt);
    }
}
