using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Npgsql;
using Webhooks.Client;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;
using Xunit.Abstractions;

namespace Webhooks.Worker.Tests;

/// <summary>
/// Payload filters: what a filter means (evaluated by Postgres with the fan-out's own rule), and that a publish delivers
/// only to the endpoints whose filter the payload passes.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class PayloadFilterTests(StackFixture fixture, ITestOutputHelper output)
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static PayloadFilter Compile(string filter)
    {
        var (compiled, errors) = PayloadFilter.Parse(Json(filter));
        Assert.True(compiled is not null, $"{filter}: {string.Join("; ", errors.Select(e => e.Message))}");
        return compiled;
    }

    // Each (filter, payload) through DeliveryLifecycle.PassesFilter, the fan-out's condition, in one query.
    private static readonly string PassesSql = $"""
        SELECT {DeliveryLifecycle.PassesFilter("e", "c.payload::jsonb")}
        FROM unnest(@paths, @payloads) WITH ORDINALITY AS c(path, payload, ord)
        CROSS JOIN LATERAL (SELECT c.path::jsonpath AS filter_path) e
        ORDER BY c.ord
        """;

    private async Task<List<bool>> PassesAsync(IReadOnlyList<(string Path, string Payload)> cases)
    {
        await using var connection = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(PassesSql, connection);
        command.Parameters.AddWithValue("paths", cases.Select(c => c.Path).ToArray());
        command.Parameters.AddWithValue("payloads", cases.Select(c => c.Payload).ToArray());
        var results = new List<bool>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            results.Add(reader.GetBoolean(0));
        }
        return results;
    }

    /// <summary>The documented semantics, one row each: filter, payload, passes.</summary>
    public static TheoryData<string, string, bool> Semantics() => new()
    {
        // A literal is equality; numbers compare as numbers, exactly, and never equal a string.
        { """{"tier":"gold"}""", """{"tier":"gold"}""", true },
        { """{"tier":"gold"}""", """{"tier":"Gold"}""", false },
        { """{"tier":"gold"}""", """{}""", false },
        { """{"amount":100}""", """{"amount":100.0}""", true },
        { """{"amount":100}""", """{"amount":1e2}""", true },
        { """{"amount":100}""", """{"amount":"100"}""", false },
        { """{"amount":"100"}""", """{"amount":100}""", false },
        { """{"n":{"$gt":12345678901234567890}}""", """{"n":12345678901234567891}""", true },
        { """{"flag":true}""", """{"flag":true}""", true },
        { """{"flag":true}""", """{"flag":"true"}""", false },
        { """{"flag":true}""", """{"flag":1}""", false },
        // null matches an explicit null, not a missing field.
        { """{"x":null}""", """{"x":null}""", true },
        { """{"x":null}""", """{}""", false },
        { """{"x":null}""", """{"x":0}""", false },
        { """{"a":{"$eq":1}}""", """{"a":1}""", true },
        // Negations hold wherever the positive form does not: a missing field, another type.
        { """{"a":{"$neq":1}}""", """{"a":2}""", true },
        { """{"a":{"$neq":1}}""", """{"a":1}""", false },
        { """{"a":{"$neq":1}}""", """{}""", true },
        { """{"a":{"$neq":1}}""", """{"a":"1"}""", true },
        // Orderings: numbers with numbers, strings with strings (by code point); nothing else, a missing field fails.
        { """{"amount":{"$gt":100}}""", """{"amount":101}""", true },
        { """{"amount":{"$gt":100}}""", """{"amount":100}""", false },
        { """{"amount":{"$gt":100}}""", """{"amount":100.5}""", true },
        { """{"amount":{"$gt":100}}""", """{}""", false },
        { """{"amount":{"$gt":100}}""", """{"amount":"101"}""", false },
        { """{"amount":{"$gte":100}}""", """{"amount":100}""", true },
        { """{"amount":{"$gte":100}}""", """{"amount":99.99}""", false },
        { """{"a":{"$lt":5}}""", """{"a":4}""", true },
        { """{"a":{"$lt":5}}""", """{"a":5}""", false },
        { """{"a":{"$lte":5}}""", """{"a":5}""", true },
        { """{"a":{"$lte":5}}""", """{"a":-5}""", true },
        { """{"name":{"$gt":"b"}}""", """{"name":"c"}""", true },
        { """{"name":{"$gt":"b"}}""", """{"name":"a"}""", false },
        { """{"name":{"$gt":"b"}}""", """{"name":"B"}""", false },
        { """{"name":{"$gt":"z"}}""", """{"name":"é"}""", true },
        { """{"name":{"$gt":"1"}}""", """{"name":2}""", false },
        { """{"amount":{"$gte":100,"$lt":200}}""", """{"amount":150}""", true },
        { """{"amount":{"$gte":100,"$lt":200}}""", """{"amount":200}""", false },
        { """{"amount":{"$gte":100,"$lt":200}}""", """{"amount":99}""", false },
        // $in / $nin: one of the values, of the same type.
        { """{"currency":{"$in":["EUR","USD"]}}""", """{"currency":"EUR"}""", true },
        { """{"currency":{"$in":["EUR","USD"]}}""", """{"currency":"GBP"}""", false },
        { """{"currency":{"$in":["EUR","USD"]}}""", """{}""", false },
        { """{"c":{"$in":[1,"2"]}}""", """{"c":"1"}""", false },
        { """{"c":{"$in":[1,"2"]}}""", """{"c":1}""", true },
        { """{"c":{"$in":[1,"2"]}}""", """{"c":"2"}""", true },
        { """{"currency":{"$nin":["EUR","USD"]}}""", """{"currency":"GBP"}""", true },
        { """{"currency":{"$nin":["EUR","USD"]}}""", """{"currency":"EUR"}""", false },
        { """{"currency":{"$nin":["EUR","USD"]}}""", """{}""", true },
        // $exists: present (even null) or not.
        { """{"a":{"$exists":true}}""", """{"a":null}""", true },
        { """{"a":{"$exists":true}}""", """{}""", false },
        { """{"a":{"$exists":false}}""", """{}""", true },
        { """{"a":{"$exists":false}}""", """{"a":null}""", false },
        { """{"a.b":{"$exists":false}}""", """{"a":[1]}""", true },
        // Paths: dots go into objects, digit segments index arrays (only arrays); an array is never searched.
        { """{"customer.tier":"gold"}""", """{"customer":{"tier":"gold"}}""", true },
        { """{"customer.tier":"gold"}""", """{"customer":"gold"}""", false },
        { """{"customer.tier":"gold"}""", """{"customer.tier":"gold"}""", false },
        { """{"items.0.sku":"A"}""", """{"items":[{"sku":"A"}]}""", true },
        { """{"items.0.sku":"A"}""", """{"items":[{"sku":"B"},{"sku":"A"}]}""", false },
        { """{"items.1.sku":"A"}""", """{"items":[{"sku":"B"},{"sku":"A"}]}""", true },
        { """{"items.0.sku":"A"}""", """{"items":{"0":{"sku":"A"}}}""", false },
        { """{"items.0.sku":"A"}""", """{"items":[]}""", false },
        { """{"items.0.sku":{"$neq":"A"}}""", """{"items":[]}""", true },
        { """{"tags":"red"}""", """{"tags":["red","blue"]}""", false },
        { """{"tags.1":"blue"}""", """{"tags":["red","blue"]}""", true },
        { """{"tags":{"$neq":"red"}}""", """{"tags":["red"]}""", true },
        // Every top-level entry must hold; $and / $or combine, a missing field in one branch of $or does not spoil it.
        { """{"a":1,"b":2}""", """{"a":1}""", false },
        { """{"a":1,"b":2}""", """{"a":1,"b":2}""", true },
        { """{"$or":[{"a":1},{"b":2}]}""", """{"b":2}""", true },
        { """{"$or":[{"a":1},{"b":2}]}""", """{"a":2,"b":1}""", false },
        { """{"$or":[{"a":1},{"b":2}]}""", """{}""", false },
        { """{"$or":[{"missing":{"$gt":1}},{"b":2}]}""", """{"b":2}""", true },
        { """{"$and":[{"a":{"$gte":1}},{"a":{"$lte":3}}]}""", """{"a":2}""", true },
        { """{"$and":[{"a":{"$gte":1}},{"a":{"$lte":3}}]}""", """{"a":4}""", false },
        { """{"$or":[{"$and":[{"a":1},{"b":1}]},{"c":{"$exists":false}}],"d":{"$neq":0}}""", """{"a":1,"b":1,"c":0}""", true },
        { """{"$or":[{"$and":[{"a":1},{"b":1}]},{"c":{"$exists":false}}],"d":{"$neq":0}}""", """{"a":1,"b":2,"c":0}""", false },
        { """{"$or":[{"$and":[{"a":1},{"b":1}]},{"c":{"$exists":false}}],"d":{"$neq":0}}""", """{"b":2,"d":0}""", false },
        // Keys and values that look like path syntax are names and strings, nothing more.
        { """{"a\") || true || (\"":1}""", """{"a\") || true || (\"":1}""", true },
        { """{"a\") || true || (\"":1}""", """{"a":1}""", false },
        { """{"a\\":"x"}""", """{"a\\":"x"}""", true },
        { """{"a\\":"x"}""", """{"a":"x"}""", false },
        { """{"a.$b":1}""", """{"a":{"$b":1}}""", true },
        { """{"price$":5}""", """{"price$":5}""", true },
        { """{"a\nb\u0001":"\t"}""", """{"a\nb\u0001":"\t"}""", true },
        { """{"a":"\" || true || \""}""", """{"a":"x"}""", false },
        { """{"a":"\" || true || \""}""", """{"a":"\" || true || \""}""", true },
        { """{"a":"$.b"}""", """{"a":"$.b","b":"$.b"}""", true },
        { """{"ü.ß":"ç"}""", """{"ü":{"ß":"ç"}}""", true },
    };

    [Theory]
    [MemberData(nameof(Semantics))]
    public async Task A_filter_means_what_the_documentation_says(string filter, string payload, bool passes)
    {
        var results = await PassesAsync([(Compile(filter).Path, payload)]);
        Assert.Equal(passes, Assert.Single(results));
    }

    [Fact]
    public async Task Postgres_agrees_with_a_reference_evaluator_on_generated_filters_and_payloads()
    {
        const int Cases = 600;
        var seed = (ulong)Environment.TickCount64;
        var generated = Gen.Sample(Gen.Zip(FilterGen(2), PayloadGen), Cases, new Rnd(seed), 10);
        var cases = generated.Select(c => (Filter: c.Item1, Payload: c.Item2, Compiled: PayloadFilter.Parse(Json(c.Item1)).Filter)).ToList();
        Assert.All(cases, c => Assert.True(c.Compiled is not null, c.Filter));
        var results = await PassesAsync(cases.Select(c => (c.Compiled!.Path, c.Payload)).ToList());
        var disagreements = cases.Zip(results)
            .Where(r => ReferenceFilter.Passes(Json(r.First.Filter), Json(r.First.Payload)) != r.Second)
            .Select(r => $"{r.First.Filter} on {r.First.Payload}: Postgres says {r.Second}")
            .ToList();
        output.WriteLine($"seed {seed}: {cases.Count} cases, {results.Count(r => r)} pass");
        Assert.True(disagreements.Count == 0, string.Join(Environment.NewLine, disagreements.Take(10)));
        // The generator reaches both answers often enough to mean something.
        Assert.InRange(results.Count(r => r), Cases / 20, Cases - (Cases / 20));
    }

    private static readonly string[] Paths = ["a", "b", "a.x", "a.0", "b.1", "a.0.x", "c"];
    private static readonly string[] Scalars = ["1", "2", "1.0", "-1", "10", "\"1\"", "\"a\"", "\"b\"", "\"\"", "true", "false", "null"];

    private static Gen<string> ScalarGen => Gen.Elements(Scalars);

    private static Gen<string> ValueGen(int depth) => depth == 0
        ? ScalarGen
        : Gen.Frequency(
            (4, ScalarGen),
            (1, Gen.Choose(0, 3).SelectMany(n => ValueGen(depth - 1).ListOf(n)).Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Choose(0, 2).SelectMany(n => Gen.Zip(Gen.Elements("x", "y"), ValueGen(depth - 1)).ListOf(n))
                .Select(entries => "{" + string.Join(",", entries.DistinctBy(e => e.Item1).Select(e => $"\"{e.Item1}\":{e.Item2}")) + "}")));

    private static Gen<string> PayloadGen =>
        Gen.Choose(0, 3).SelectMany(n => Gen.Zip(Gen.Elements("a", "b", "c"), ValueGen(2)).ListOf(n))
            .Select(entries => "{" + string.Join(",", entries.DistinctBy(e => e.Item1).Select(e => $"\"{e.Item1}\":{e.Item2}")) + "}");

    private static Gen<string> ConditionGen =>
        Gen.Frequency(
            (2, ScalarGen),
            (1, Gen.Elements("$eq", "$neq").SelectMany(op => ScalarGen.Select(v => $"{{\"{op}\":{v}}}"))),
            (2, Gen.Elements("$gt", "$gte", "$lt", "$lte").SelectMany(op => Gen.Elements("1", "2", "-1", "1.5", "\"a\"", "\"b\"").Select(v => $"{{\"{op}\":{v}}}"))),
            (1, Gen.Elements("$in", "$nin").SelectMany(op => Gen.Choose(1, 3).SelectMany(n => ScalarGen.ListOf(n)).Select(v => $"{{\"{op}\":[{string.Join(",", v)}]}}"))),
            (1, Gen.Elements("true", "false").Select(v => $"{{\"$exists\":{v}}}")));

    private static Gen<string> FilterGen(int depth)
    {
        var entries = Gen.Choose(1, 2).SelectMany(n => Gen.Zip(Gen.Elements(Paths), ConditionGen).ListOf(n))
            .Select(list => list.DistinctBy(e => e.Item1).Select(e => $"\"{e.Item1}\":{e.Item2}").ToList());
        if (depth == 0)
        {
            return entries.Select(e => "{" + string.Join(",", e) + "}");
        }
        var combined = Gen.Elements("$and", "$or").SelectMany(op => Gen.Choose(1, 3).SelectMany(n => FilterGen(depth - 1).ListOf(n))
            .Select(items => $"\"{op}\":[{string.Join(",", items)}]"));
        return Gen.Frequency(
            (3, entries.Select(e => "{" + string.Join(",", e) + "}")),
            (1, Gen.Zip(entries, combined).Select(p => "{" + string.Join(",", p.Item1.Append(p.Item2)) + "}")));
    }

    [Fact]
    public async Task A_publish_delivers_only_to_the_endpoints_whose_filter_the_payload_passes()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("filters"));
        var secret = WebhookSecret.Generate().ToString();
        await using var big = await TestReceiver.StartAsync(secret, "order.created");
        await using var euro = await TestReceiver.StartAsync(secret, "order.created");
        await using var all = await TestReceiver.StartAsync(secret, "order.created");
        var bigOrders = await api.CreateEndpointAsync(app.Id, new EndpointIn(big.WebhookUrl.ToString(), Secret: secret,
            Filter: Json("""{"amount":{"$gte":100}}""")));
        var euroOrders = await api.CreateEndpointAsync(app.Id, new EndpointIn(euro.WebhookUrl.ToString(), Secret: secret,
            Filter: Json("""{"currency":{"$in":["EUR","USD"]}}""")));
        var allOrders = await api.CreateEndpointAsync(app.Id, new EndpointIn(all.WebhookUrl.ToString(), Secret: secret));

        // A batch of mixed payloads, then one alone: each message's deliveries are decided in its publish statement.
        var batch = await api.PublishBatchAsync(app.Id, new MessageBatchIn([
            new MessageIn("order.created", Json("""{"amount":150,"currency":"GBP"}""")),
            new MessageIn("order.created", Json("""{"amount":50, "currency":"EUR"}""")),
            new MessageIn("order.created", Json("""{"amount":100,"currency":"USD"}""")),
        ]));
        // (Sent as raw JSON: the payload text, spacing included, is what the receiver gets, although the filters parsed it.)
        const string Spaced = """{"amount" : "1000", "currency":"eur"}""";
        using var http = (await fixture.Stack.ApiAsync()).Http();
        using var response = await http.PostAsync($"/api/v1/apps/{app.Id}/messages",
            new StringContent($$"""{"eventType":"order.created","payload":{{Spaced}}}""", System.Text.Encoding.UTF8, "application/json"));
        var single = Json(await response.Content.ReadAsStringAsync()).GetProperty("id").GetString()!;
        var ids = batch.Data.Select(m => m.Id).Append(single).ToArray();

        async Task<string[]> EndpointsOf(string messageId) =>
            [.. (await api.ListDeliveriesAsync(app.Id, messageId)).Data.Select(d => d.EndpointId).Order(StringComparer.Ordinal)];
        string[] Of(params EndpointCreated[] endpoints) => [.. endpoints.Select(e => e.Id).Order(StringComparer.Ordinal)];
        Assert.Equal(Of(bigOrders, allOrders), await EndpointsOf(ids[0]));
        Assert.Equal(Of(euroOrders, allOrders), await EndpointsOf(ids[1]));
        Assert.Equal(Of(bigOrders, euroOrders, allOrders), await EndpointsOf(ids[2]));
        Assert.Equal(Of(allOrders), await EndpointsOf(ids[3]));

        // And the receivers get exactly those, the payload byte for byte as published.
        await Eventually.HoldsAsync(() => all.Handled.Count >= 4 && big.Handled.Count >= 2 && euro.Handled.Count >= 2, TimeSpan.FromSeconds(30), "delivered");
        Assert.Equal(new[] { ids[0], ids[2] }.Order(StringComparer.Ordinal), big.Handled.Select(h => h.Id).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { ids[1], ids[2] }.Order(StringComparer.Ordinal), euro.Handled.Select(h => h.Id).Order(StringComparer.Ordinal));
        Assert.Equal(ids.Order(StringComparer.Ordinal), all.Handled.Select(h => h.Id).Order(StringComparer.Ordinal));
        var body = System.Text.Encoding.UTF8.GetString(all.Requests.Single(r => r.Headers.GetValueOrDefault("webhook-id") == ids[3]).Body);
        Assert.Contains($"\"data\":{Spaced}", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operational_events_are_filtered_by_the_same_rule()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync();
        var api = isolated.Client();
        var secret = WebhookSecret.Generate().ToString();
        await using var fiveHundreds = await TestReceiver.StartAsync(secret, "message.attempt.exhausted");
        await using var fourHundreds = await TestReceiver.StartAsync(secret, "message.attempt.exhausted");
        var operational = await api.CreateApplicationAsync(new ApplicationIn("platform operations", "operational"));
        await api.CreateEndpointAsync(operational.Id, new EndpointIn(fiveHundreds.WebhookUrl.ToString(), Secret: secret,
            EventTypes: ["message.attempt.exhausted"], Filter: Json("""{"lastStatusCode":{"$gte":500}}""")));
        await api.CreateEndpointAsync(operational.Id, new EndpointIn(fourHundreds.WebhookUrl.ToString(), Secret: secret,
            EventTypes: ["message.attempt.exhausted"], Filter: Json("""{"lastStatusCode":{"$gte":400,"$lt":500}}""")));

        // A customer's endpoint that answers 500 once and for all (one attempt per message).
        await using var s = await Scenario.CreateAsync(api, e => e with { RetrySchedule = [0] }, _ => Task.FromResult<int?>(500));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(() => !fiveHundreds.Handled.IsEmpty, TimeSpan.FromSeconds(30), "the operational event delivered");
        Assert.Equal(message.Id, Assert.Single(fiveHundreds.Handled).Data.GetProperty("messageId").GetString());
        var events = (await api.ListMessagesAsync(operational.Id)).Data;
        var delivered = Assert.Single(events);
        Assert.Single((await api.ListDeliveriesAsync(operational.Id, delivered.Id)).Data);
        Assert.Empty(fourHundreds.Requests);
    }

    [Fact]
    public async Task A_filter_update_takes_effect_for_the_next_publish()
    {
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("filter update"));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn("https://example.com/hook", Filter: Json("""{"tier":"gold"}""")));
        var silver = Json("""{"tier":"silver"}""");
        async Task<int> DeliveriesOf(MessageOut m) => (await api.ListDeliveriesAsync(app.Id, m.Id)).Data.Count;

        Assert.Equal(0, await DeliveriesOf(await api.PublishAsync(app.Id, new MessageIn("order.created", silver))));
        await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/hook", Filter: Json("""{"tier":{"$in":["silver"]}}""")));
        Assert.Equal(1, await DeliveriesOf(await api.PublishAsync(app.Id, new MessageIn("order.created", silver))));
        Assert.Equal(0, await DeliveriesOf(await api.PublishAsync(app.Id, new MessageIn("order.created", Json("""{"tier":"gold"}""")))));
        await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn("https://example.com/hook"));
        Assert.Equal(1, await DeliveriesOf(await api.PublishAsync(app.Id, new MessageIn("order.created", Json("""{"tier":"bronze"}""")))));
    }

    [Fact]
    public async Task A_test_event_says_whether_its_payload_passes_the_filter_and_is_sent_either_way()
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        var app = await api.CreateApplicationAsync(new ApplicationIn("filter test event"));
        var secret = WebhookSecret.Generate().ToString();
        await using var receiver = await TestReceiver.StartAsync(secret, "order.created");
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn(receiver.WebhookUrl.ToString(), Secret: secret,
            Filter: Json("""{"amount":{"$gte":100}}""")));

        var passes = await api.TestEndpointAsync(app.Id, endpoint.Id, new EndpointTestIn("order.created", Json("""{"amount":100}""")));
        Assert.True(passes.FilterMatched);
        var fails = await api.TestEndpointAsync(app.Id, endpoint.Id, new EndpointTestIn("order.created", Json("""{"amount":"100"}""")));
        Assert.False(fails.FilterMatched);
        await Eventually.HoldsAsync(() => receiver.Handled.Count >= 2, TimeSpan.FromSeconds(30), "both test events delivered");
        Assert.Equal([passes.MessageId, fails.MessageId], receiver.Handled.Select(h => h.Id));

        await api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn(receiver.WebhookUrl.ToString()));
        Assert.Null((await api.TestEndpointAsync(app.Id, endpoint.Id, new EndpointTestIn("order.created", Json("""{"amount":1}""")))).FilterMatched);
    }
}

/// <summary>The documented filter semantics written again, plainly, in C#: what Postgres must agree with.</summary>
internal static class ReferenceFilter
{
    public static bool Passes(JsonElement filter, JsonElement payload) =>
        filter.EnumerateObject().All(entry => entry.Name switch
        {
            "$and" => entry.Value.EnumerateArray().All(f => Passes(f, payload)),
            "$or" => entry.Value.EnumerateArray().Any(f => Passes(f, payload)),
            _ => Holds(Resolve(payload, entry.Name), entry.Value),
        });

    private static JsonElement? Resolve(JsonElement payload, string path)
    {
        JsonElement? current = payload;
        foreach (var segment in path.Split('.'))
        {
            current = current switch
            {
                { ValueKind: JsonValueKind.Array } array when segment.All(char.IsAsciiDigit) =>
                    int.Parse(segment, CultureInfo.InvariantCulture) is var i && i < array.GetArrayLength() ? array[i] : null,
                { ValueKind: JsonValueKind.Object } obj when !segment.All(char.IsAsciiDigit) =>
                    obj.TryGetProperty(segment, out var value) ? value : null,
                _ => null,
            };
        }
        return current;
    }

    private static bool Holds(JsonElement? value, JsonElement condition)
    {
        if (condition.ValueKind != JsonValueKind.Object)
        {
            return Equal(value, condition);
        }
        return condition.EnumerateObject().All(op => op.Name switch
        {
            "$eq" => Equal(value, op.Value),
            "$neq" => !Equal(value, op.Value),
            "$gt" => Compare(value, op.Value) > 0,
            "$gte" => Compare(value, op.Value) >= 0,
            "$lt" => Compare(value, op.Value) is < 0 and not int.MinValue,
            "$lte" => Compare(value, op.Value) is <= 0 and not int.MinValue,
            "$in" => op.Value.EnumerateArray().Any(v => Equal(value, v)),
            "$nin" => !op.Value.EnumerateArray().Any(v => Equal(value, v)),
            "$exists" => value.HasValue == op.Value.GetBoolean(),
            _ => throw new InvalidOperationException(op.Name),
        });
    }

    private static bool Equal(JsonElement? value, JsonElement literal) => value is { } v && v.ValueKind switch
    {
        JsonValueKind.Number => literal.ValueKind == JsonValueKind.Number && v.GetDecimal() == literal.GetDecimal(),
        JsonValueKind.String => literal.ValueKind == JsonValueKind.String && v.GetString() == literal.GetString(),
        JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => v.ValueKind == literal.ValueKind,
        _ => false,
    };

    /// <summary>The order of two numbers or two strings; <see cref="int.MinValue"/> when they are not comparable.</summary>
    private static int Compare(JsonElement? value, JsonElement literal) => value switch
    {
        { ValueKind: JsonValueKind.Number } v when literal.ValueKind == JsonValueKind.Number => Math.Sign(v.GetDecimal().CompareTo(literal.GetDecimal())),
        { ValueKind: JsonValueKind.String } v when literal.ValueKind == JsonValueKind.String => Math.Sign(string.CompareOrdinal(v.GetString(), literal.GetString())),
        _ => int.MinValue,
    };
}
