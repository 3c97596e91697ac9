using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>An endpoint's payload filter is validated on save (422 naming the offending place) and returned as given (as JSON: same keys and values).</summary>
[Collection(StackFixture.Collection)]
public sealed class PayloadFilterValidationTests(StackFixture fixture)
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static string Deep(int levels) =>
        levels == 0 ? """{"a":1}""" : $$"""{"$and":[{{Deep(levels - 1)}}]}""";

    public static TheoryData<string, string> InvalidFilters() => new()
    {
        { """[1]""", "filter" },
        { """{}""", "filter" },
        { """{"amount":{"$gte":100},"currency":{"$between":[1,2]}}""", "filter.currency.$between" },
        { """{"amount":{"$gte":true}}""", "filter.amount.$gte" },
        { """{"amount":{"$gt":null}}""", "filter.amount.$gt" },
        { """{"amount":{"$eq":{"x":1}}}""", "filter.amount.$eq" },
        { """{"amount":[1,2]}""", "filter.amount" },
        { """{"amount":{}}""", "filter.amount" },
        { """{"customer":{"tier":"gold"}}""", "filter.customer.tier" },
        { """{"currency":{"$in":"EUR"}}""", "filter.currency.$in" },
        { """{"currency":{"$in":[]}}""", "filter.currency.$in" },
        { """{"currency":{"$nin":["EUR",["USD"]]}}""", "filter.currency.$nin[1]" },
        { """{"flag":{"$exists":1}}""", "filter.flag.$exists" },
        { """{"$or":{"a":1}}""", "filter.$or" },
        { """{"$or":[]}""", "filter.$or" },
        { """{"$and":[{"a":1},2]}""", "filter.$and[1]" },
        { """{"$or":[{"a":{"$lt":"x","$foo":1}}]}""", "filter.$or[0].a.$foo" },
        { """{"$where":"1"}""", "filter.$where" },
        { """{"a..b":1}""", "filter.a..b" },
        { """{".a":1}""", "filter..a" },
        { """{"items.1234567890.sku":1}""", "filter.items.1234567890.sku" },
        { """{"a":1,"a":2}""", "filter.a" },
        { """{"a":"\u0000"}""", "filter" },
        { """{"a":1e200000}""", "filter" },
        { Deep(6), "filter.$and[0].$and[0].$and[0].$and[0].$and[0].$and" },
        { "{" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"f{i}\":{i}")) + "}", "filter" },
        { """{"c":{"$in":[""" + string.Join(",", Enumerable.Range(0, 101)) + "]}}", "filter.c.$in" },
        { """{"c":{"$in":[""" + string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"{new string('x', 80)}{i}\"")) + "]}}", "filter" },
    };

    [Theory]
    [MemberData(nameof(InvalidFilters))]
    public async Task An_invalid_filter_is_refused_with_422_naming_the_offending_place(string filter, string field)
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("filter validation"));
        var error = await Assert.ThrowsAnyAsync<ApiException>(() =>
            api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", Filter: Json(filter))));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, error.StatusCode);
        Assert.Equal("application/problem+json", error.ContentHeaders?.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(error.Content!);
        var errors = problem.RootElement.GetProperty("errors").EnumerateObject().ToList();
        Assert.Contains(field, errors.Select(e => e.Name));
        // Each message names its place too (the dashboard shows messages only).
        Assert.All(errors, e => Assert.Contains($"'{e.Name}'", e.Value[0].GetString(), StringComparison.Ordinal));
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);

        // The same on update, which leaves the endpoint as it was.
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", Filter: Json("""{"a":1}""")));
        var update = await Assert.ThrowsAnyAsync<ApiException>(() =>
            api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/other", Filter: Json(filter))));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, update.StatusCode);
        var kept = await api.GetEndpointAsync(app.Id, endpoint.Id);
        Assert.Equal("https://example.com/hook", kept.Url);
        Assert.True(JsonElement.DeepEquals(Json("""{"a":1}"""), kept.Filter!.Value));
    }

    [Fact]
    public async Task The_filter_is_returned_as_written_and_an_update_sets_or_clears_it()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("filter round trip"));
        var filter = Json("""{"amount":{"$gte":100},"currency":{"$in":["EUR","USD"]},"$or":[{"a\"b.$c":null},{"items.0.sku":"X"}]}""");
        var created = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", Filter: filter));
        Assert.True(JsonElement.DeepEquals(filter, created.Endpoint.Filter!.Value));
        Assert.True(JsonElement.DeepEquals(filter, (await api.GetEndpointAsync(app.Id, created.Id)).Filter!.Value));
        Assert.True(JsonElement.DeepEquals(filter, (await api.ListEndpointsAsync(app.Id)).Data.Single().Filter!.Value));

        // PUT replaces the settings: a new filter, then none (left out), then none (JSON null).
        var other = Json("""{"tier":"gold"}""");
        var updated = await api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn("https://example.com/hook", Filter: other));
        Assert.True(JsonElement.DeepEquals(other, updated.Filter!.Value));
        Assert.Null((await api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn("https://example.com/hook"))).Filter);
        Assert.Null((await api.GetEndpointAsync(app.Id, created.Id)).Filter);

        var http = (await fixture.Stack.ApiAsync()).Http();
        using var response = await http.PutAsJsonAsync($"/api/v1/apps/{app.Id}/endpoints/{created.Id}", new { url = "https://example.com/hook", filter = (object?)null });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(JsonValueKind.Null, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("filter").ValueKind);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_filter_and_the_test_answer()
    {
        var http = (await fixture.Stack.ApiAsync()).Http();
        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("EndpointIn").GetProperty("properties").TryGetProperty("filter", out _));
        Assert.True(schemas.GetProperty("EndpointUpdateIn").GetProperty("properties").TryGetProperty("filter", out _));
        Assert.True(schemas.GetProperty("EndpointOut").GetProperty("properties").TryGetProperty("filter", out _));
        Assert.True(schemas.GetProperty("EndpointTestOut").GetProperty("properties").TryGetProperty("filterMatched", out _));
    }
}
