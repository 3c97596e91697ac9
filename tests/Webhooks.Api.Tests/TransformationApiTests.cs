using System.Net;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>An endpoint's <c>transformation</c> and <c>format</c> through the API: checked on save, previewed in the sandbox, per tenant.</summary>
[Collection(StackFixture.Collection)]
public sealed class TransformationApiTests(StackFixture fixture)
{
    private const string Url = "https://receiver.example/webhooks";
    private const string Identity = "function handler(webhook) { return webhook; }";

    private static async Task<(HttpStatusCode Status, Dictionary<string, string[]> Errors)> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<ApiException>(call);
        Assert.Equal("application/problem+json", error.ContentHeaders?.ContentType?.MediaType);
        var problem = JsonDocument.Parse(error.Content!).RootElement;
        return (error.StatusCode, problem.GetProperty("errors").EnumerateObject().ToDictionary(e => e.Name, e => e.Value.EnumerateArray().Select(v => v.GetString()!).ToArray()));
    }

    [Fact]
    public async Task Transformation_and_format_are_stored_and_returned()
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform store"));
        var created = await api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Transformation: Identity, Format: EndpointFormats.Discord));
        Assert.Equal((Identity, EndpointFormats.Discord), (created.Endpoint.Transformation, created.Endpoint.Format));

        var plain = await api.CreateEndpointAsync(app.Id, new EndpointIn(Url));
        Assert.Equal(((string?)null, EndpointFormats.Standard), (plain.Endpoint.Transformation, plain.Endpoint.Format));

        // An empty script is none; leaving the format out goes back to standard.
        var updated = await api.UpdateEndpointAsync(app.Id, created.Id, new EndpointUpdateIn(Url, Transformation: "  "));
        Assert.Equal(((string?)null, EndpointFormats.Standard), (updated.Transformation, updated.Format));
    }

    [Theory]
    [InlineData("function handler(webhook) {\n  return webhook +;\n}", "line 2, column")]
    [InlineData("function notTheHandler(webhook) { return webhook; }", "handler")]
    [InlineData("while (true) {}", "statements")]
    [InlineData("function handler(w) { return w; }\nthrow new Error('at load');", "at load")]
    public async Task A_script_that_cannot_run_is_refused_on_save_with_422_naming_transformation(string script, string expected)
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform invalid"));
        var (status, errors) = await RefusedAsync(() => api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Transformation: script)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains(expected, Assert.Single(errors["transformation"]), StringComparison.OrdinalIgnoreCase);
        Assert.Empty((await api.ListEndpointsAsync(app.Id)).Data);

        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Transformation: Identity));
        (status, errors) = await RefusedAsync(() => api.UpdateEndpointAsync(app.Id, endpoint.Id, new EndpointUpdateIn(Url, Transformation: script)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("transformation", errors.Keys);
        Assert.Equal(Identity, (await api.GetEndpointAsync(app.Id, endpoint.Id)).Transformation);
    }

    [Fact]
    public async Task Oversized_scripts_and_unknown_formats_are_refused()
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform limits"));
        var huge = Identity + "\n//" + new string('x', 64 * 1024);
        Assert.Contains("transformation", (await RefusedAsync(() => api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Transformation: huge)))).Errors.Keys);
        var (status, errors) = await RefusedAsync(() => api.CreateEndpointAsync(app.Id, new EndpointIn(Url, Format: "teams")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("format", errors.Keys);
    }

    [Fact]
    public async Task Preview_runs_the_script_on_a_message_of_the_application_and_sends_nothing()
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform preview"));
        var message = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { id = "o_1", total = 42 })));

        var result = await api.PreviewTransformationAsync(app.Id, new TransformationPreviewIn(
            "function handler(w) { w.payload = { total: w.payload.data.total * 2, at: Date.now() }; w.headers['X-Preview'] = '1'; return w; }",
            MessageId: message.Id, Url: "https://receiver.example/in"));
        Assert.Equal(84, result.Payload!.Value.GetProperty("total").GetInt32());
        Assert.Equal(message.CreatedAt.ToUnixTimeMilliseconds(), result.Payload.Value.GetProperty("at").GetInt64());
        Assert.Equal(("POST", "https://receiver.example/in", false, "1"), (result.Method, result.Url, result.Cancel, result.Headers["X-Preview"]));
        Assert.Equal(JsonSerializer.Serialize(result.Payload.Value), result.Body);

        // A chat format without a script shows the adapter's rendering; with cancel, nothing would be sent.
        var slack = await api.PreviewTransformationAsync(app.Id, new TransformationPreviewIn(Format: EndpointFormats.Slack, MessageId: message.Id));
        Assert.Equal("order.created", slack.Payload!.Value.GetProperty("text").GetString());
        var cancelled = await api.PreviewTransformationAsync(app.Id, new TransformationPreviewIn("function handler(w) { w.cancel = true; return w; }",
            EventType: "order.created", Payload: JsonSerializer.SerializeToElement(new { n = 1 })));
        Assert.True(cancelled.Cancel);
        Assert.Null(cancelled.Payload);
    }

    [Fact]
    public async Task Preview_of_a_runaway_script_answers_422_and_the_api_keeps_serving()
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform runaway"));
        var sample = JsonSerializer.SerializeToElement(new { n = 1 });
        foreach (var script in new[]
                 {
                     "function handler(w) { while (true) {} }",
                     "function handler(w) { var s = 'x'; while (true) { s = s + s; } }",
                     "function handler(w) { function f() { return f(); } return f(); }",
                     "function handler(w) { w.headers['webhook-signature'] = 'v1,forged'; return w; }",
                     "function handler(w) { w.url = 'http://169.254.169.254/latest'; return w; }",
                 })
        {
            var (status, errors) = await RefusedAsync(() => api.PreviewTransformationAsync(app.Id,
                new TransformationPreviewIn(script, EventType: "order.created", Payload: sample)));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
            Assert.Contains("transformation", errors.Keys);
        }
        Assert.Equal(app.Id, (await api.GetApplicationAsync(app.Id)).Id);
    }

    [Fact]
    public async Task Preview_never_reads_another_applications_message()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("transform tenant a"));
        var theirs = await admin.CreateApplicationAsync(new ApplicationIn("transform tenant b"));
        var theirMessage = await admin.PublishAsync(theirs.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { secret = "b's" })));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("a's key", mine.Id));
        var a = service.Client(key.Key);

        var input = new TransformationPreviewIn(Identity, MessageId: theirMessage.Id);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAnyAsync<ApiException>(() => a.PreviewTransformationAsync(mine.Id, input))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAnyAsync<ApiException>(() => a.PreviewTransformationAsync(theirs.Id, input))).StatusCode);
        // Even an admin key names the application whose message it previews.
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAnyAsync<ApiException>(() => admin.PreviewTransformationAsync(mine.Id, input))).StatusCode);
    }

    [Fact]
    public async Task Preview_needs_a_message_or_an_event()
    {
        var api = (await fixture.Stack.ApiAsync()).Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("transform preview input"));
        var (status, errors) = await RefusedAsync(() => api.PreviewTransformationAsync(app.Id, new TransformationPreviewIn(Identity)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("eventType", errors.Keys);
        (_, errors) = await RefusedAsync(() => api.PreviewTransformationAsync(app.Id, new TransformationPreviewIn(Identity, Format: "teams", MessageId: "msg_x")));
        Assert.Contains("format", errors.Keys);
    }
}
