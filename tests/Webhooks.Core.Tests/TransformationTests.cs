using System.Text;
using System.Text.Json;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Core.Tests;

/// <summary>The transformation sandbox: what a script sees, what it may return, and the limits no script gets past.</summary>
public class TransformationTests
{
    private static readonly DateTimeOffset MessageTime = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private const string Url = "https://hooks.example.com/in/abc?x=1";

    private static TransformationOutput Run(string script, string payload = """{"id":1,"name":"Ada"}""", IReadOnlyDictionary<string, string>? headers = null) =>
        Transformation.Run(script, new TransformationInput("order.created", Encoding.UTF8.GetBytes(payload), Url, "POST",
            headers ?? new Dictionary<string, string> { ["X-Tenant"] = "t1" }, MessageTime));

    private static string Fails(string script, string payload = """{"id":1}""") =>
        Assert.Throws<TransformationException>(() => Run(script, payload)).Message;

    [Fact]
    public void The_script_sees_the_event_and_request_and_its_result_is_sent()
    {
        var output = Run("""
            function handler(webhook) {
              webhook.payload = { event: webhook.eventType, who: webhook.payload.name, url: webhook.url, method: webhook.method,
                                  tenant: webhook.headers['X-Tenant'], cancel: webhook.cancel };
              webhook.headers['X-Extra'] = 'yes';
              webhook.method = 'put';
              webhook.url = webhook.url.replace('/in/abc', '/in/def');
              return webhook;
            }
            """);
        using var body = JsonDocument.Parse(output.Body);
        Assert.Equal("""{"event":"order.created","who":"Ada","url":"https://hooks.example.com/in/abc?x=1","method":"POST","tenant":"t1","cancel":false}""",
            Encoding.UTF8.GetString(output.Body));
        Assert.Equal(("PUT", "https://hooks.example.com/in/def?x=1", false), (output.Method, output.Url, output.Cancel));
        Assert.Equal("yes", output.Headers["X-Extra"]);
        Assert.Equal("t1", output.Headers["X-Tenant"]);
    }

    [Fact]
    public void The_only_clock_is_the_message_timestamp()
    {
        var output = Run("function handler(w) { w.payload = [Date.now(), new Date().toISOString()]; return w; }");
        Assert.Equal($"[{MessageTime.ToUnixTimeMilliseconds()},\"2024-05-06T07:08:09.000Z\"]", Encoding.UTF8.GetString(output.Body));
    }

    [Fact]
    public void Cancel_true_sends_nothing()
    {
        Assert.True(Run("function handler(w) { w.cancel = w.payload.id === 1; return w; }").Cancel);
        Assert.False(Run("function handler(w) { w.cancel = w.payload.id === 2; return w; }").Cancel);
    }

    [Fact]
    public void A_string_payload_is_sent_as_a_json_string_and_numbers_as_json()
    {
        Assert.Equal("\"hi\"", Encoding.UTF8.GetString(Run("function handler(w) { w.payload = 'hi'; return w; }").Body));
        Assert.Equal("""{"a":1.5,"b":null,"c":[true]}""",
            Encoding.UTF8.GetString(Run("function handler(w) { w.payload = {a: 1.5, b: NaN, c: [true], d: undefined, f: function(){}}; return w; }").Body));
    }

    [Theory]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(2 ** 28); return w; }")]
    [InlineData("function handler(w) { w.payload = 'x'.padStart(2 ** 28); return w; }")]
    [InlineData("function handler(w) { w.payload = new Array(100000).fill('x'.repeat(2000)).join(''); return w; }")]
    [InlineData("function handler(w) { w.payload = String(new Array(100000).fill('x'.repeat(2000))); return w; }")]
    [InlineData("function handler(w) { var b = new Uint8Array(2 ** 28); w.payload = b.length; return w; }")]
    [InlineData("function handler(w) { var b = new ArrayBuffer(2 ** 28); w.payload = b.byteLength; return w; }")]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(4000000).replaceAll('x', 'y'.repeat(100)); return w; }")]
    [InlineData("function handler(w) { w.payload = JSON.stringify(new Array(100000).fill('x'.repeat(4000000))); return w; }")]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(4000000).split('x').join('yyyyyyyy'); return w; }")]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(4000000).replace(/x/g, 'y'.repeat(100)); return w; }")]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(20000).replace(/x/g, '$`'); return w; }")]
    [InlineData("function handler(w) { w.payload = ''.concat.apply('', new Array(100000).fill('x'.repeat(4000000))); return w; }")]
    public void One_call_that_would_allocate_far_past_the_memory_limit_is_refused_before_it_allocates(string script)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<TransformationException>(() => Run(script));
        // The memory limit is 16 MiB; without the guards these allocated 400 MiB and more before being refused.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L * 1024 * 1024,
            $"{(GC.GetAllocatedBytesForCurrentThread() - before) / 1024 / 1024} MiB allocated");
    }

    /// <summary>
    /// One built-in call per family that can build a large string or array from a few large strings: each is refused (or
    /// charged) within a few MiB of the 16 MiB limit — five 4-Mi-character strings are 40 MiB when joined.
    /// </summary>
    [Theory]
    [InlineData("[s, s, s, s, s].join('')")]
    [InlineData("String([s, s, s, s, s])")]
    [InlineData("JSON.stringify([s, s, s, s, s])")]
    [InlineData("JSON.stringify({a: s, b: s, c: s, d: s, e: s})")]
    [InlineData("s.padStart(5 * s.length)")]
    [InlineData("s.padEnd(5 * s.length, 'y')")]
    [InlineData("s.repeat(5)")]
    [InlineData("s.concat(s, s, s, s)")]
    [InlineData("s.replace(/x/g, 'xxxxx')")]
    [InlineData("s + s + s + s + s")]
    [InlineData("Array.from({length: 5}, () => s).join('')")]
    [InlineData("new Array(5).fill(s).join('')")]
    [InlineData("[...[s, s, s, s, s]].join('')")]
    [InlineData("`${s}${s}${s}${s}${s}`")]
    [InlineData("`a${s}b${`c${s}${s}`}d${s}${s}e`")]
    public void Each_family_of_growing_built_ins_keeps_within_a_few_mib_of_the_memory_limit(string expression)
    {
        var script = $"function handler(w) {{ var s = 'x'.repeat(4 * 1024 * 1024 - 1); w.payload = ({expression}).length; return w; }}";
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<TransformationException>(() => Run(script));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // s itself is 8 MiB; the limit is 16 MiB; one more call's worth on top is the most a check between statements lets by.
        Assert.True(allocated < 36L * 1024 * 1024, $"{expression}: {allocated / 1024 / 1024} MiB allocated");
    }

    [Theory]
    [InlineData("function handler(w) { w.payload = 'a,b'.repeat(3).replaceAll(',', ';').replace('a', '$&$&').concat('!', 1); return w; }", "\"aa;ba;ba;b!1\"")]
    [InlineData("function handler(w) { w.payload = [1, null, 'a', [2, 3]].join('-') + String([4, 5]) + 'x'.padStart(3, '.') + 'y'.padEnd(2); return w; }", "\"1--a-2,34,5..xy \"")]
    [InlineData("function handler(w) { w.payload = JSON.stringify({a: [1, 'b', null, {c: true}]}) === '{\"a\":[1,\"b\",null,{\"c\":true}]}' && JSON.stringify([1], null, 2) === '[\\n  1\\n]' && JSON.stringify('q', function (k, v) { return v; }) === '\"q\"'; return w; }", "true")]
    [InlineData("function handler(w) { var o = { toString: function () { return 'o'; } }; var n = 2; w.payload = `a${n}b${`[${o}]`}c\\u00e9\\n\"${null}${undefined}` + String.raw`x${n}\\n`; return w; }",
        "\"a2b[o]c\\u00E9\\n\\u0022nullundefinedx2\\\\n\"")]
    [InlineData("function handler(w) { var s; try { s = `${Symbol('q')}`; } catch (e) { s = e instanceof TypeError; } w.payload = s; return w; }", "true")]
    public void Guarded_string_built_ins_still_work(string script, string body) =>
        Assert.Equal(body, Encoding.UTF8.GetString(Run(script).Body));

    [Theory]
    [InlineData("function handler(w) {\n  return w.\n}", "line 3")]
    [InlineData("function handler(w) { while (true) {} }", "statements")]
    [InlineData("function handler(w) { var i = 0; while (true) { i++; } }", "statements")]
    [InlineData("function handler(w) { function f(n) { return f(n + 1); } return f(0); }", "recursed")]
    [InlineData("function handler(w) { w.payload = 'x'.repeat(1e9); return w; }", "Invalid string length")]
    [InlineData("function handler(w) { var s = 'x'; for (var i = 0; i < 40; i++) s = s + s; return w; }", "memory")]
    [InlineData("function handler(w) { var a = []; for (;;) a.push('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + a.length); }", "The script")]
    [InlineData("function handler(w) { w.payload = new Array(1e9).fill(1); return w; }", "memory")]
    [InlineData("function handler(w) { throw new Error('nope'); }", "nope")]
    [InlineData("function handler(w) { return 42; }", "must return the webhook")]
    [InlineData("function handler(w) { return [w]; }", "must return the webhook")]
    [InlineData("function handler(w) { return {}; }", "no 'payload'")]
    [InlineData("function handler(w) { var o = {}; o.self = o; w.payload = o; return w; }", "circular")]
    [InlineData("function handler(w) { w.payload = {}; Object.defineProperty(w.payload, 'x', { enumerable: true, get: function () { while (true) {} } }); return w; }", "getter")]
    [InlineData("function handler(w) { w.payload = Symbol('s'); return w; }", "JSON cannot represent")]
    [InlineData("function handler(w) { w.payload = 10n; return w; }", "JSON cannot represent")]
    [InlineData("function handler(w) { require('fs'); return w; }", "require is not defined")]
    [InlineData("function handler(w) { fetch('http://169.254.169.254/'); return w; }", "fetch is not defined")]
    [InlineData("function handler(w) { importScripts('x'); return w; }", "importScripts is not defined")]
    [InlineData("function handler(w) { System.IO.File.ReadAllText('/etc/passwd'); return w; }", "System is not defined")]
    [InlineData("function handler(w) { importNamespace('System'); return w; }", "importNamespace is not defined")]
    [InlineData("function handler(w) { setTimeout(function () {}, 1); return w; }", "setTimeout is not defined")]
    [InlineData("function handler(w) { return eval('w'); }", "String compilation")]
    [InlineData("function handler(w) { return new Function('return 1')(); }", "String compilation")]
    [InlineData("function handler(w) { new Proxy({}, {}); return w; }", "Proxy is not defined")]
    [InlineData("function handler(w) { undeclared = 1; return w; }", "undeclared is not defined")]
    [InlineData("function handler(w) { /(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'); return w; }", "regular expression")]
    [InlineData("var x = 1;", "must define 'function handler(webhook)'")]
    [InlineData("while (true) {}", "statements")]
    public void Hostile_or_broken_scripts_fail_with_a_transformation_error(string script, string expected) =>
        Assert.Contains(expected, Fails(script), StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void A_payload_sharing_one_big_string_cannot_grow_past_the_body_limit()
    {
        var message = Fails("""
            function handler(w) { var s = 'x'.repeat(100000); var a = []; for (var i = 0; i < 50000; i++) a.push(s); w.payload = a; return w; }
            """);
        Assert.Contains("larger than", message);
    }

    [Theory]
    [InlineData("webhook-signature")]
    [InlineData("Webhook-Id")]
    [InlineData("webhook-timestamp")]
    [InlineData("Host")]
    [InlineData("Content-Length")]
    [InlineData("content-type")]
    [InlineData("Transfer-Encoding")]
    [InlineData("Connection")]
    [InlineData("traceparent")]
    [InlineData("bad name")]
    public void Reserved_headers_cannot_be_set(string name) =>
        Assert.Contains("may not be set", Fails($"function handler(w) {{ w.headers['{name}'] = 'x'; return w; }}"));

    [Fact]
    public void Header_values_must_be_printable_strings()
    {
        Assert.Contains("may not be set", Fails("function handler(w) { w.headers['X-A'] = 'a\\r\\nInjected: 1'; return w; }"));
        Assert.Contains("must be a string", Fails("function handler(w) { w.headers['X-A'] = 1; return w; }"));
    }

    [Theory]
    [InlineData("http://hooks.example.com/in/abc")]
    [InlineData("https://evil.example.com/in/abc")]
    [InlineData("https://hooks.example.com:8443/in/abc")]
    [InlineData("https://user:pw@hooks.example.com/in/abc")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://127.0.0.1/")]
    [InlineData("file:///etc/passwd")]
    [InlineData("not a url")]
    public void The_url_keeps_the_endpoint_origin(string url) =>
        Assert.Contains("'url' may change only the path", Fails($"function handler(w) {{ w.url = '{url}'; return w; }}"));

    [Theory]
    [InlineData("GET")]
    [InlineData("DELETE")]
    [InlineData("CONNECT")]
    public void Only_post_put_and_patch(string method) =>
        Assert.Contains("'method'", Fails($"function handler(w) {{ w.method = '{method}'; return w; }}"));

    [Fact]
    public void Check_reports_syntax_errors_with_line_and_column_and_accepts_a_good_script()
    {
        Assert.Null(Transformation.Check("function handler(webhook) { return webhook; }"));
        Assert.Matches(@"line 2, column \d+", Transformation.Check("function handler(webhook) {\n  return webhook +;\n}"));
        Assert.Contains("handler", Transformation.Check("function other(webhook) { return webhook; }"));
        Assert.Contains("KiB", Transformation.Check("function handler(w) { return w; } //" + new string('x', Transformation.MaxScriptBytes)));
    }

    [Fact]
    public void Runs_share_nothing()
    {
        const string script = "var count = 0; function handler(w) { count++; globalThis.leak = (globalThis.leak || 0) + 1; w.payload = [count, globalThis.leak]; return w; }";
        Assert.Equal("[1,1]", Encoding.UTF8.GetString(Run(script).Body));
        Assert.Equal("[1,1]", Encoding.UTF8.GetString(Run(script).Body));
    }

    [Fact]
    public void Shape_hands_the_script_the_adapter_output_for_chat_formats()
    {
        var output = Transformation.Shape(ChatFormats.Slack, "function handler(w) { w.payload.text = 'changed: ' + w.payload.text; return w; }",
            "order.created", MessageTime, """{"summary":"Order 42"}""", Url, new Dictionary<string, string>());
        using var body = JsonDocument.Parse(output.Body);
        Assert.Equal("changed: order.created: Order 42", body.RootElement.GetProperty("text").GetString());
        Assert.True(body.RootElement.TryGetProperty("blocks", out _));

        var plain = Transformation.Shape(null, null, "order.created", MessageTime, """{"n":1}""", Url, new Dictionary<string, string>());
        Assert.Equal(WebhookEnvelope.Build("order.created", MessageTime, """{"n":1}"""), plain.Body);
    }

    [Theory]
    [InlineData(AttemptTrigger.Scheduled)]
    [InlineData(AttemptTrigger.Manual)]
    public void A_failed_transformation_blocks_without_retry_and_a_cancel_cancels(AttemptTrigger trigger)
    {
        var failed = DeliveryLifecycle.Decide(1, AttemptOutcome.TransformationFailed, null, RetrySchedule.Default, new Random(1), trigger);
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Failed, null, false, TransformationBlocked: true), failed);
        var cancelled = DeliveryLifecycle.Decide(1, AttemptOutcome.Cancelled, null, RetrySchedule.Default, new Random(1), trigger);
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Cancelled, null, false), cancelled);
        Assert.Equal(DeliveryStatus.Cancelled, DeliveryLifecycle.Decide(1, AttemptOutcome.Cancelled, null, RetrySchedule.Default, new Random(1), AttemptTrigger.Test).Status);
    }

    [Theory]
    [InlineData(DeliveryLifecycle.TransformationErrorKind)]
    [InlineData(DeliveryLifecycle.CancelledErrorKind)]
    public void Transformation_outcomes_never_count_against_the_endpoint(string errorKind)
    {
        Assert.False(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Scheduled, errorKind));
        Assert.True(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Scheduled, "http_status"));
    }
}
