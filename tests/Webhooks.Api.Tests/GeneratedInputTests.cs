using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using Npgsql;
using Webhooks.Client;
using Webhooks.Testing;
using Xunit.Abstractions;

namespace Webhooks.Api.Tests;

/// <summary>
/// Generated input (FsCheck) for every operation of the running API's OpenAPI document: random path, query and header
/// values (any text, unicode, huge and negative numbers, dates at the ends of the calendar and in any offset, empty,
/// very long) and random JSON bodies (the operation's own shape with values of any type, or any shape at all: nulls,
/// wrong types, deep nesting, self-referring schemas, nulls inside lists and maps, control and non-ASCII characters in every
/// string), each sent with an application key and with an admin key.
/// Whatever comes in: never a 5xx, every error is problem details, and a request that answered an error stored nothing.
/// The seed is fixed (set WEBHOOKS_GENERATED_SEED to try another) and printed, so a failure is reproducible.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed partial class GeneratedInputTests(StackFixture fixture, ITestOutputHelper output)
{
    private const ulong DefaultSeed = 20_261_125;
    private const int DefaultCases = 300;
    private const int Size = 30;

    private sealed record Parameter(string Name, string In, string Type, string? Format);

    private sealed record Operation(string Method, string Path, IReadOnlyList<Parameter> Parameters, JsonObject? Body);

    /// <summary>A path value: the world's own resource (by id, or for an application by uid too), or any text.</summary>
    private sealed record Slot(bool Real, bool ByUid, string Text);

    /// <summary>A generated request, before the world's ids are filled in.</summary>
    private sealed record Case(
        int Operation, IReadOnlyDictionary<string, Slot> Path, IReadOnlyList<(string Name, string Value)> Query,
        IReadOnlyList<(string Name, string Value)> Headers, string? Body);

    /// <summary>What the requests work on: an application with an event type (with a schema), an endpoint, a message, a key.</summary>
    private sealed record World(string AppId, string AppUid, string EndpointId, string MessageId, string KeyId, string ScopedKey);

    [Fact]
    public async Task Generated_requests_to_every_route_never_answer_5xx_always_problem_details_and_store_nothing_on_error()
    {
        var seed = ulong.TryParse(Environment.GetEnvironmentVariable("WEBHOOKS_GENERATED_SEED"), out var given) ? given : DefaultSeed;
        var cases = int.TryParse(Environment.GetEnvironmentVariable("WEBHOOKS_GENERATED_CASES"), out var count) ? count : DefaultCases;
        output.WriteLine($"Generated input: seed {seed}, {cases} cases, each sent with an application key and an admin key " +
                         "(WEBHOOKS_GENERATED_SEED / WEBHOOKS_GENERATED_CASES to change).");

        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        using var http = service.Http();
        // A test event waits up to its endpoint's timeout for a worker, which this suite does not run.
        http.Timeout = TimeSpan.FromSeconds(90);
        var operations = Operations(JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!.AsObject());
        Assert.True(operations.Count >= 30, $"only {operations.Count} operations in the OpenAPI document");
        var generated = Gen.Sample(CaseOf(operations), cases, new Rnd(seed), Size);

        var world = await WorldAsync(admin);
        var tables = await TablesAsync();
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        foreach (var (generatedCase, index) in generated.Select((c, i) => (c, i)))
        {
            foreach (var asAdmin in new[] { false, true })
            {
                var operation = operations[generatedCase.Operation];
                using var request = Request(operation, generatedCase, world, asAdmin);
                var what = $"#{index} {(asAdmin ? "admin" : "app key")} {operation.Method} {Shorten(request.RequestUri!.ToString(), 300)}" +
                           (generatedCase.Body is null ? "" : $" body {Shorten(generatedCase.Body, 400)}");
                var before = await SnapshotAsync(tables, world);
                using var response = await http.SendAsync(request);
                var status = (int)response.StatusCode;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                var type = response.Content.Headers.ContentType?.MediaType;
                if (status >= 500)
                {
                    failures.Add($"{what} -> {status}: {Shorten(await response.Content.ReadAsStringAsync(), 300)}");
                }
                else if (status >= 400 && Svix.Is(operation.Path) && !RefusedByKestrel(request, status))
                {
                    // Svix's surface answers in Svix's error shape: {code, detail}, or 422 {detail: [{loc, msg, type}]}.
                    if (type != "application/json" || !Svix.IsError(await response.Content.ReadAsStringAsync(), status))
                    {
                        failures.Add($"{what} -> {status} {type ?? "(no body)"} instead of Svix's error shape");
                    }
                }
                else if (status >= 400 && type != "application/problem+json" && !RefusedByKestrel(request, status))
                {
                    failures.Add($"{what} -> {status} {type ?? "(no body)"} instead of problem details");
                }
                if (status >= 400 && await SnapshotAsync(tables, world) is var after && after != before)
                {
                    failures.Add($"{what} -> {status}, but storage changed:\n  before {before}\n  after  {after}");
                }
                // A deleted or changed application, endpoint or key: start again on fresh resources.
                if (status < 300 && operation.Method is "DELETE" or "PUT")
                {
                    world = await WorldAsync(admin);
                }
            }
        }

        output.WriteLine($"Sent {generated.Length * 2} requests; statuses: {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}");
        Assert.True(failures.Count == 0,
            $"Seed {seed}: {failures.Count} of {generated.Length * 2} generated requests failed:\n" + string.Join("\n", failures.Take(30)));
        // The generator reaches past routing and authorization: some requests are refused for their content, some succeed.
        Assert.Contains(statuses.Keys, s => s is 400 or 422);
        Assert.Contains(statuses.Keys, s => s is >= 200 and < 300);
    }

    private static HttpRequestMessage Request(Operation operation, Case generated, World world, bool asAdmin)
    {
        var path = operation.Path;
        foreach (var (name, slot) in generated.Path)
        {
            var value = !slot.Real ? slot.Text : name switch
            {
                "appId" => slot.ByUid ? world.AppUid : world.AppId,
                "endpointId" => world.EndpointId,
                "messageId" => world.MessageId,
                "name" => "a.b",
                "keyId" => world.KeyId,
                "attemptId" => "atmpt_01M83QVZ8PEHMARF83NFG2E3JN",
                _ => slot.Text,
            };
            path = path.Replace("{" + name + "}", Uri.EscapeDataString(value), StringComparison.Ordinal);
        }
        // The tenant's route parameter is bound by the tenant filter, not by the handler: the document does not list it.
        path = path.Replace("{appId}", Uri.EscapeDataString(world.AppId), StringComparison.Ordinal);
        if (generated.Query.Count > 0)
        {
            path += "?" + string.Join("&", generated.Query.Select(q => Uri.EscapeDataString(q.Name) + "=" + Uri.EscapeDataString(q.Value)));
        }
        var request = new HttpRequestMessage(new HttpMethod(operation.Method), path);
        foreach (var (name, value) in generated.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (!asAdmin)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", world.ScopedKey);
        }
        if (generated.Body is not null)
        {
            request.Content = new StringContent(generated.Body, Encoding.UTF8, "application/json");
        }
        return request;
    }

    private static class Svix
    {
        public static bool Is(string path) =>
            path == "/api/v1/app" || path.StartsWith("/api/v1/app/", StringComparison.Ordinal) || path.StartsWith("/api/v1/event-type", StringComparison.Ordinal) ||
            path.StartsWith("/api/v1/auth/", StringComparison.Ordinal);

        public static bool IsError(string body, int status)
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                return status == 422
                    ? root.GetProperty("detail").EnumerateArray().All(d => d.GetProperty("loc").GetArrayLength() > 0 && d.GetProperty("msg").GetString() is { Length: > 0 })
                    : root.GetProperty("code").GetString() is { Length: > 0 } && root.GetProperty("detail").GetString() is { Length: > 0 };
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return false;
            }
        }
    }

    // A NUL in the path is refused by Kestrel itself, before any application code runs: a 400 without a body.
    private static bool RefusedByKestrel(HttpRequestMessage request, int status) =>
        status == 400 && request.RequestUri!.OriginalString.Split('?')[0].Contains("%00", StringComparison.Ordinal);

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + $"…({text.Length} chars)";

    // ---- The OpenAPI document: operations, their parameters and the shape of their bodies.

    private static List<Operation> Operations(JsonObject document)
    {
        var schemas = document["components"]?["schemas"]?.AsObject();
        JsonObject? Resolve(JsonNode? schema) =>
            schema?["$ref"]?.GetValue<string>() is { } reference ? schemas?[reference.Split('/')[^1]]?.AsObject() : schema?.AsObject();

        var operations = new List<Operation>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var parameters = (operation!["parameters"]?.AsArray() ?? []).Select(p => new Parameter(
                    p!["name"]!.GetValue<string>(), p["in"]!.GetValue<string>(), TypeOf(p["schema"]), p["schema"]?["format"]?.GetValue<string>())).ToList();
                var body = Resolve(operation["requestBody"]?["content"]?["application/json"]?["schema"]);
                // Nested shapes (a batch's messages) resolved once, so generation needs no document.
                if (body?["properties"]?.AsObject() is { } properties)
                {
                    foreach (var (name, property) in properties.ToList())
                    {
                        if (property?["items"]?["$ref"] is not null)
                        {
                            properties[name] = new JsonObject { ["type"] = "array", ["items"] = Resolve(property["items"])!.DeepClone() };
                        }
                    }
                }
                operations.Add(new Operation(method.ToUpperInvariant(), path, parameters, body));
            }
        }
        return operations;
    }

    private static string TypeOf(JsonNode? schema) => schema?["type"] switch
    {
        JsonArray types => types.Select(t => t!.GetValue<string>()).FirstOrDefault(t => t != "null") ?? "string",
        JsonValue type => type.GetValue<string>(),
        _ => "any",
    };

    // ---- Generators.

    private static readonly string[] Interesting =
    [
        "", " ", "a.b", "x", "0", "-1", "null", "true", "operational", "Operational", "%00", "%2F", "..", "../..", "'; DROP TABLE messages;--",
        "' OR 1=1 --", "ü🙂\u202E", "\u0000", "\r\nX-Injected: 1", "\uFFFF", "\uFEFF", "a\u0301", "app_0000000000000000000000000u",
        "msg_01M83QVZ8PEHMARF83NFG2E3JN", "ep_01M83QVZ8PEHMARF83NFG2E3JN", "atmpt_01M83QVZ8PEHMARF83NFG2E3JN", "key_01M83QVZ8PEHMARF83NFG2E3JN",
        "pending", "succeeded", "failed", "exhausted", "in_flight", "cancelled", "https://example.com/hook", "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "javascript:alert(1)", "whsec_dGVzdA==", "whsec_",
    ];

    private static readonly string[] EdgeNumbers =
    [
        "0", "-0", "1", "-1", "250", "251", "2147483647", "2147483648", "-2147483648", "-2147483649", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "99999999999999999999999999", "1e400", "-1e400", "1.5", "1e3", "NaN", "Infinity",
        "0x10", "١٢", "+5", " 5",
    ];

    private static readonly string[] EdgeDates =
    [
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.9999999Z", "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00", "0001-01-01T13:59:59+14:00", "2026-01-01T00:00:00+05:00", "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z", "2026-02-30T00:00:00Z", "2026-13-01", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
        "2026-01-01", "2026-01-01T00:00:00", "yesterday", "1e400",
    ];

    private static Gen<string> Unicode =>
        Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Gen.Frequency(
                (3, Gen.Choose(0x20, 0x7E)), (2, Gen.Choose(0x80, 0xD7FF)), (1, Gen.Choose(0xE000, 0x10FFFF)), (1, Gen.Choose(0, 0x1F))), n))
            .Select(points => string.Concat(points.Select(char.ConvertFromUtf32)));

    private static Gen<string> Numbers => Gen.Frequency(
        (3, Gen.Elements(EdgeNumbers)),
        (2, ArbMap.Default.GeneratorFor<int>().Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (1, ArbMap.Default.GeneratorFor<long>().Select(i => (i * 1_000_003L).ToString(CultureInfo.InvariantCulture))),
        (1, ArbMap.Default.GeneratorFor<double>().Select(d => d.ToString("R", CultureInfo.InvariantCulture))));

    /// <summary>Numbers as JSON writes them (huge ones included): the others are text, not numbers, in a body.</summary>
    private static Gen<string> JsonNumbers => Numbers.Where(n => JsonNumber().IsMatch(n));

    [System.Text.RegularExpressions.GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial System.Text.RegularExpressions.Regex JsonNumber();

    private static Gen<string> Dates => Gen.Frequency(
        (3, Gen.Elements(EdgeDates)),
        (2, ArbMap.Default.GeneratorFor<DateTimeOffset>().Select(d => d.ToString("o", CultureInfo.InvariantCulture))));

    /// <summary>Any text: interesting values, numbers, dates, unicode (no lone surrogates: the URL and JSON writers refuse them), long.</summary>
    private static Gen<string> Text => Gen.Frequency(
        (4, Gen.Elements(Interesting)),
        (2, Unicode),
        (2, Numbers),
        (2, Dates),
        (1, Gen.Elements(256, 257, 2000).Select(n => new string('a', n))));

    private static Gen<string> Quoted(Gen<string> text) => text.Select(t => JsonSerializer.Serialize(t));

    private static readonly string[] JsonLeaves =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e400", "-1e400", "2147483648", "9223372036854775808", "99999999999999999999999999999999",
        "1e131072", "1e-16384", "-0.0e-99999", "\"\"", "\"\\u0000\"",
        "\"\\uD800\"", "\"\\uDC00x\"", "{}", "[]",
    ];

    private static readonly string[] Keys =
    [
        "name", "uid", "url", "description", "eventType", "eventTypes", "channels", "payload", "secret", "key", "reason", "since",
        "messages", "schema", "archived", "rateLimitPerSecond", "timeoutSeconds", "headers", "metadata", "retrySchedule",
        "applicationId", "idempotencyKey", "type", "properties", "items", "$ref", "allOf", "not", "n", "", "__proto__",
    ];

    /// <summary>Any JSON text: leaves of every type, arrays, objects with the API's field names, and deep nesting.</summary>
    private static Gen<string> Json(int depth) => depth <= 0
        ? Gen.OneOf(Gen.Elements(JsonLeaves), Quoted(Text), JsonNumbers)
        : Gen.Frequency(
            (3, Json(0)),
            (2, Gen.Choose(0, 4).SelectMany(n => Json(depth - 1).ListOf(n)).Select(items => "[" + string.Join(",", items) + "]")),
            (3, Object(Gen.Frequency((4, Gen.Elements(Keys)), (1, Text)), Json(depth - 1))),
            (1, Gen.Choose(60, 200).Select(n => new string('[', n) + new string(']', n))),
            (1, Gen.Choose(60, 200).Select(n => string.Concat(Enumerable.Repeat("{\"a\":", n)) + "1" + new string('}', n))));

    private static Gen<string> Object(Gen<string> keys, Gen<string> values) =>
        Gen.Choose(0, 5).SelectMany(n => Gen.Zip(keys, values).ListOf(n))
            .Select(members => "{" + string.Join(",", members.Select(m => JsonSerializer.Serialize(m.Item1) + ":" + m.Item2)) + "}");

    private static readonly string[] References = ["\"#\"", "\"#/definitions/a\"", "\"#/properties/a\"", "\"#/allOf/0\"", "\"#/nope\"", "\"#a\"", "\"http://127.0.0.1:9/s\"", "7"];

    /// <summary>Schema-like JSON: the keywords that recurse, in place or into the payload, with references that may loop.</summary>
    private static Gen<string> Schema(int depth) => depth <= 0
        ? Gen.Elements("{}", "true", "false", "{\"type\":\"object\"}", "{\"$ref\":\"#\"}", "{\"type\":\"string\",\"pattern\":\"^(a+)+$\"}", "{\"type\":\"integer\",\"minimum\":1e400}")
        : Gen.Shuffle(SchemaKeywords.Keys.ToArray()).SelectMany(keywords => Gen.Choose(0, 3).Select(n => keywords.Take(n)))
            .SelectMany(keywords => Gen.CollectToList(keywords, k => SchemaKeywords[k](depth - 1).Select(v => JsonSerializer.Serialize(k) + ":" + v)))
            .Select(members => "{" + string.Join(",", members) + "}");

    private static readonly Dictionary<string, Func<int, Gen<string>>> SchemaKeywords = new()
    {
        ["type"] = _ => Gen.Elements("\"object\"", "\"string\"", "\"integer\"", "[\"object\",\"null\"]", "\"nonsense\"", "1"),
        ["properties"] = d => Object(Gen.Elements("a", "n", "name", "$ref"), Schema(d)),
        ["items"] = Schema,
        ["additionalProperties"] = Schema,
        ["allOf"] = d => Schema(d).ListOf(2).Select(s => "[" + string.Join(",", s) + "]"),
        ["anyOf"] = d => Schema(d).ListOf(1).Select(s => "[" + string.Join(",", s) + "]"),
        ["oneOf"] = d => Schema(d).ListOf(2).Select(s => "[" + string.Join(",", s) + "]"),
        ["not"] = Schema,
        ["if"] = Schema,
        ["then"] = Schema,
        ["$ref"] = _ => Gen.Elements(References),
        ["definitions"] = d => Object(Gen.Elements("a", "b"), Schema(d)),
        ["required"] = _ => Gen.Elements("[\"a\"]", "[]", "[1]", "\"a\""),
        ["pattern"] = _ => Gen.Elements("\"^a$\"", "\"(\"", "\"^(a|a)*$\""),
        ["minimum"] = _ => Gen.Elements("0", "1e400", "\"x\""),
        ["multipleOf"] = _ => Gen.Elements("0", "1e-400", "0.5", "-1", "1e300", "\"x\""),
        ["patternProperties"] = d => Object(Gen.Elements("^a", "(", "[", "\\p{Foo}"), Schema(d)),
        ["enum"] = d => Json(d).ListOf(2).Select(s => "[" + string.Join(",", s) + "]"),
        ["examples"] = d => Json(d).ListOf(1).Select(s => "[" + string.Join(",", s) + "]"),
    };

    /// <summary>A value for a body field: usually of its declared type (edge values included), sometimes anything.</summary>
    private static Gen<string> ValueFor(string name, JsonNode? schema, int depth)
    {
        var typed = name switch
        {
            "payload" => Gen.Frequency((3, Object(Gen.Elements("n", "name", "children", "a"), Json(2))), (1, Json(depth))),
            "schema" => Schema(3),
            // Names the world has, or takes, so requests reach the schema check, the uid rules and the URL guard.
            "eventType" or "name" => Gen.Frequency((3, Quoted(Gen.Elements("a.b", "c.d", "order.created", "a.b.c.d.e.f"))), (2, Quoted(Text))),
            "eventTypes" => Gen.Elements("[\"a.b\"]", "[]", "[\"a.b\",\"a.b\"]", "[\"\"]", "null", "[null]", "[\"a.b\",null]"),
            "uid" => Gen.Frequency((2, Quoted(Gen.Elements("operational", "Operational", " operational", "generated-x", "app_x", "a"))), (2, Quoted(Text))),
            "url" => Gen.Frequency((2, Quoted(Gen.Elements("https://example.com/x", "http://127.0.0.1:9/x", "http://[::1]/x", "https://example.com:99999/", "https://user:pw@example.com/"))), (2, Quoted(Text))),
            _ => TypeOf(schema) switch
            {
                "integer" or "number" => Gen.Frequency((3, JsonNumbers), (1, Quoted(Numbers))),
                "boolean" => Gen.Elements("true", "false", "\"true\"", "1"),
                "array" when schema?["items"]?["properties"] is not null =>
                    Gen.Choose(0, 3).SelectMany(n => OrNull(Shaped(schema["items"]!.AsObject(), depth - 1)).ListOf(n)).Select(items => "[" + string.Join(",", items) + "]"),
                "array" => Gen.Choose(0, 4).SelectMany(n => OrNull(ValueFor("", schema?["items"], depth - 1)).ListOf(n)).Select(items => "[" + string.Join(",", items) + "]"),
                // Maps (headers, metadata) with null values now and then, keys and values in any text.
                "object" => Object(Text, OrNull(Quoted(Text))),
                _ when schema?["format"]?.GetValue<string>() == "date-time" => Quoted(Dates),
                _ => Quoted(Text),
            },
        };
        return depth <= 0 ? typed : Gen.Frequency((4, typed), (1, Json(Math.Min(depth, 2))));
    }

    /// <summary>Usually a value of <paramref name="value"/>, now and then a JSON null in its place (inside a list or a map).</summary>
    private static Gen<string> OrNull(Gen<string> value) => Gen.Frequency((5, value), (1, Gen.Constant("null")));

    /// <summary>An object of the operation's shape: its required fields (mostly) and some others, each with a value for it.</summary>
    private static Gen<string> Shaped(JsonObject schema, int depth)
    {
        var fields = (schema["properties"]?.AsObject() ?? []).Select(p => p.Key).ToArray();
        var required = (schema["required"]?.AsArray() ?? []).Select(r => r!.GetValue<string>()).ToHashSet();
        return Gen.CollectToList(fields, f => Gen.Frequency((required.Contains(f) ? 9 : 1, Gen.Constant(true)), (1, Gen.Constant(false))))
            .SelectMany(chosen => Gen.CollectToList(fields.Where((_, i) => chosen[i]), f =>
                ValueFor(f, schema["properties"]![f], depth).Select(v => JsonSerializer.Serialize(f) + ":" + v)))
            .Select(members => "{" + string.Join(",", members) + "}");
    }

    private static Gen<string?> Body(Operation operation) => operation.Body is null
        ? Gen.Frequency((6, Gen.Constant<string?>(null)), (1, Json(2).Select(b => (string?)b)))
        : Gen.Frequency(
            (6, Shaped(operation.Body, 3).Select(b => (string?)b)),
            (2, Json(3).Select(b => (string?)b)),
            (1, Gen.Elements<string?>(null, "", "{", "{\"name\":", "\"text\"", "{\"a\":1,\"a\":2}", "{\"name\":\"x\"} trailing")));

    private static Gen<string> QueryValue(Parameter parameter) => Gen.Frequency(
        (4, parameter switch
        {
            { Type: "integer" } => Numbers,
            { Format: "date-time" } => Dates,
            { Type: "boolean" } => Gen.Elements("true", "false", "True", "maybe", "1", ""),
            { Name: "Status" } => Gen.Elements("pending", "in_flight", "succeeded", "failed", "exhausted", "cancelled", "Pending", "IN_FLIGHT", "lost"),
            { Name: "Iterator" } => Gen.Elements("msg_01M83QVZ8PEHMARF83NFG2E3JN", "atmpt_01M83QVZ8PEHMARF83NFG2E3JN", "1", "-1", "0", "9223372036854775808", "a.b", "zzz"),
            _ => Text,
        }),
        (1, Text));

    private static Gen<Case> CaseOf(IReadOnlyList<Operation> operations) =>
        from index in Gen.Choose(0, operations.Count - 1)
        let operation = operations[index]
        from path in Gen.CollectToList(operation.Parameters.Where(p => p.In == "path"), p =>
            Gen.Frequency(
                (8, Gen.Elements(false, true).Select(byUid => new Slot(true, byUid, ""))),
                (2, Text.Select(t => new Slot(false, false, t)))).Select(slot => (p.Name, slot)))
        from query in Gen.CollectToList(operation.Parameters.Where(p => p.In == "query"), p =>
            Gen.Frequency((1, Gen.Constant<(string, string)?>(null)), (1, QueryValue(p).Select(v => ((string, string)?)(p.Name, v)))))
        from extra in Gen.Frequency((5, Gen.Constant<(string, string)?>(null)), (1, Gen.Zip(Text, Text).Select(kv => ((string, string)?)kv)))
        from headers in Gen.CollectToList(operation.Parameters.Where(p => p.In == "header"), p =>
            Gen.Frequency(
                (1, Gen.Constant<(string, string)?>(null)),
                (2, Gen.Elements("", "k", " ", new string('k', 256), new string('k', 257), "key\u007F", "\t k \t").Select(v => ((string, string)?)(p.Name, v)))))
        from body in Body(operation)
        select new Case(
            index,
            path.ToDictionary(p => p.Name, p => p.slot),
            query.Append(extra).OfType<(string, string)>().ToList(),
            headers.OfType<(string, string)>().ToList(),
            body);

    // ---- The world and the storage snapshot.

    private static async Task<World> WorldAsync(IWebhooksApi admin)
    {
        var uid = "generated-" + Guid.NewGuid().ToString("N")[..8];
        var app = await admin.CreateApplicationAsync(new ApplicationIn("generated input", uid));
        var schema = JsonDocument.Parse("""
            {"type":"object","properties":{"n":{"type":"integer","minimum":0},"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}
            """).RootElement;
        await admin.CreateEventTypeAsync(app.Id, new EventTypeIn("a.b", "generated", schema));
        // A one-second timeout: a test event waits that long (and a margin) for a worker that does not run here.
        var endpoint = await admin.CreateEndpointAsync(app.Id, new EndpointIn("http://127.0.0.1:9/generated", TimeoutSeconds: 1));
        var message = await admin.PublishAsync(app.Id, new MessageIn("a.b", JsonSerializer.SerializeToElement(new { n = 1 })));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("generated", app.Id));
        return new World(app.Id, uid, endpoint.Id, message.Id, key.Id, key.Key);
    }

    private async Task<List<string>> TablesAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name", connection);
        var tables = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }
        Assert.Contains("messages", tables);
        return tables;
    }

    /// <summary>Row counts of every table, and a digest of the world's rows (so a change in place shows too).</summary>
    private async Task<string> SnapshotAsync(List<string> tables, World world)
    {
        await using var connection = new NpgsqlConnection(fixture.Stack.PostgresConnectionString);
        await connection.OpenAsync();
        var counts = string.Join(", ", tables.Select(t => $"'{t}=' || (SELECT count(*) FROM \"{t}\")"));
        await using var command = new NpgsqlCommand($"""
            SELECT concat_ws(' | ', {counts},
                md5(concat((SELECT a::text FROM applications a WHERE id = @app),
                           (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM event_types t WHERE application_id = @app),
                           (SELECT string_agg(e::text, ',' ORDER BY e.id) FROM endpoints e WHERE application_id = @app),
                           (SELECT string_agg(k::text, ',' ORDER BY k.id) FROM api_keys k WHERE application_id = @app),
                           (SELECT string_agg(d::text, ',' ORDER BY d.id) FROM deliveries d WHERE application_id = @app))))
            """, connection);
        command.Parameters.AddWithValue("app", world.AppId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
