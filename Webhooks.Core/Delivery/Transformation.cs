using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Acornima;
using Acornima.Ast;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;

namespace Webhooks.Core.Delivery;

/// <summary>
/// What a transformation's <c>handler(webhook)</c> is given: the event type, the body about to be sent (the Standard
/// Webhooks envelope, or the chat adapter's message), the request's URL, method and custom headers, and the message's
/// time (the only clock the script sees).
/// </summary>
public sealed record TransformationInput(
    string EventType, ReadOnlyMemory<byte> Payload, string Url, string Method, IReadOnlyDictionary<string, string> Headers, DateTimeOffset Timestamp);

/// <summary>What the script decided: the body to send (UTF-8 JSON), method, URL and custom headers, or to send nothing.</summary>
public sealed record TransformationOutput(byte[] Body, string Method, string Url, Dictionary<string, string> Headers, bool Cancel);

/// <summary>
/// A transformation that cannot be used: a syntax error (with its line and column), no <c>handler</c>, an exception
/// thrown by the script, a limit run over, or a result that breaks the rules. The message is safe to show the tenant.
/// </summary>
public sealed class TransformationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Runs endpoint transformations in a sandbox (Jint): strict mode, no CLR access, no <c>eval</c>/<c>Function</c>, no
/// I/O or timers (none exists in the engine), <c>Date.now()</c> fixed at the message's timestamp, and hard limits on
/// time, statements, memory, recursion, array size and regular expressions. A script is parsed once and cached by its
/// text; each run gets a fresh engine, so nothing leaks from one message (or tenant) to the next. The API validates and
/// previews with it, the worker runs it on every attempt: one implementation of the rules.
/// </summary>
public static class Transformation
{
    /// <summary>The longest script an endpoint may have, in UTF-8 bytes.</summary>
    public const int MaxScriptBytes = 64 * 1024;

    /// <summary>
    /// Wall-clock budget of one run (top level and handler together): a backstop. Statements and memory bound a script
    /// deterministically; time depends on the machine's load (and the engine's first, JIT-compiled run), and a delivery
    /// is not to be blocked because the worker was busy.
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    /// <summary>Statements one run may execute: stops a busy loop deterministically, usually long before the timeout.</summary>
    public const int MaxStatements = 500_000;

    /// <summary>Bytes one run may allocate.</summary>
    public const long MaxMemoryBytes = 16 * 1024 * 1024;

    /// <summary>Deepest call stack.</summary>
    public const int MaxRecursion = 64;

    /// <summary>Longest array a script may create.</summary>
    public const uint MaxArraySize = 100_000;

    /// <summary>Deepest nesting of the returned payload.</summary>
    public const int MaxDepth = 64;

    /// <summary>The methods a script may choose.</summary>
    public static readonly IReadOnlyList<string> Methods = ["POST", "PUT", "PATCH"];

    private const string HandlerName = "handler";

    // Globals removed before the script runs: Proxy (traps would run JS while the result is read, outside the limits),
    // Reflect, and the shared-memory and realm machinery. None of them is needed to reshape a JSON body.
    // Typed arrays and buffers are removed too: one constructor call allocates its whole length before the memory limit is
    // checked (new ArrayBuffer(2 ** 28) took 256 MiB), and a webhook body has no use for them.
    private static readonly string[] RemovedGlobals = ["Proxy", "Reflect", "SharedArrayBuffer", "Atomics", "WeakRef", "FinalizationRegistry", "ShadowRealm",
        "ArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
        "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"];

    // Parsed scripts by their text, bounded by the text's total size (a parsed script is many times its text): the
    // endpoints' scripts stay parsed, while a stream of distinct scripts (previews) cannot grow it without end.
    /// <summary>The longest string one built-in call may make (characters): 8 MiB of UTF-16, half the memory limit.</summary>
    public const int MaxStringChars = 4 * 1024 * 1024;

    // Built-ins that make one long string in a single call allocate it before the memory limit (checked between
    // statements) can refuse it: 'x'.repeat(2 ** 28) took half a gigabyte first. repeat is refused past MaxStringChars before
    // it allocates; so are replace, replaceAll, concat, padStart, padEnd, Array.prototype.join (String(array) too) and
    // JSON.stringify, by a bound of what they could make; a template literal with substitutions becomes a call that
    // measures its parts first (GuardTemplates). (split and concatenation with + are charged as they build: see the tests.)
    private static readonly Prepared<Acornima.Ast.Script> Guards = Engine.PrepareScript($$"""
        (function () {
            var max = {{MaxStringChars}};
            var nativeJoin = Array.prototype.join;
            // Template literals with substitutions are rewritten into calls of this (see GuardTemplates): the parts are
            // measured before the string is made.
            Object.defineProperty(globalThis, '{{TemplateFunction}}', { writable: false, configurable: false, enumerable: false, value: function (strings) {
                var parts = [], length = 0;
                for (var i = 0; i < strings.length; i++) {
                    parts.push(strings[i]);
                    length += strings[i].length;
                    if (i + 1 < arguments.length) {
                        var value = arguments[i + 1];
                        if (typeof value === 'symbol') { throw new TypeError('Cannot convert a Symbol value to a string'); }
                        value = String(value);
                        length += value.length;
                        if (length > max) { throw new RangeError('Invalid string length'); }
                        parts.push(value);
                    }
                }
                return nativeJoin.call(parts, '');
            } });
            function guard(proto, name, length) {
                var original = proto[name];
                Object.defineProperty(proto, name, { writable: true, configurable: true, enumerable: false, value: function () {
                    if (length.apply(this, arguments) > max) { throw new RangeError('Invalid string length'); }
                    return original.apply(this, arguments);
                } });
            }
            guard(String.prototype, 'repeat', function (n) { return String(this).length * Number(n); });
            // A replacement may insert a match, prefix or suffix ($&, $`, $') per '$': bounded by the string's length each.
            // (A replacement function runs once per match under the statement limit.)
            function replaced(global) {
                return function (pattern, replacement) {
                    if (typeof replacement === 'function') { return 0; }
                    var length = String(this).length, text = String(replacement);
                    var each = text.length + length * (text.split('$').length - 1);
                    var all = global || (pattern instanceof RegExp && pattern.global);
                    return all ? length * Math.max(1, each) : length + each;
                };
            }
            guard(String.prototype, 'replace', replaced(false));
            guard(String.prototype, 'replaceAll', replaced(true));
            guard(String.prototype, 'concat', function () {
                var length = String(this).length;
                for (var i = 0; i < arguments.length; i++) { length += String(arguments[i]).length; }
                return length;
            });
            function padded(target) { return Number(target); }
            guard(String.prototype, 'padStart', padded);
            guard(String.prototype, 'padEnd', padded);
            // join: the elements' lengths and the separators', counted until past the bound (each element is turned into a
            // string here too, under the statement limit: an array is at most 100,000 long).
            guard(Array.prototype, 'join', function (separator) {
                var n = this.length >>> 0, sep = separator === undefined ? 1 : String(separator).length;
                var length = n > 0 ? sep * (n - 1) : 0;
                for (var i = 0; i < n && length <= max; i++) {
                    var item = this[i];
                    length += item === undefined || item === null ? 0 : String(item).length;
                }
                return length;
            });
            // JSON.stringify: a walk that adds up what the text would hold, stopping past the bound.
            var stringify = JSON.stringify;
            function size(value, depth) {
                if (depth > 64) { return 0; }
                if (typeof value === 'string') { return value.length + 2; }
                if (value === null || typeof value !== 'object') { return 24; }
                var total = 2, keys = Object.keys(value);
                for (var i = 0; i < keys.length && total <= max; i++) {
                    total += keys[i].length + 4 + size(value[keys[i]], depth + 1);
                }
                return total;
            }
            Object.defineProperty(JSON, 'stringify', { writable: true, configurable: true, enumerable: false, value: function (value, replacer, space) {
                if (typeof replacer !== 'function' && size(value, 0) * (space ? 2 : 1) > max) { throw new RangeError('Invalid string length'); }
                return stringify.apply(JSON, arguments);
            } });
        })();
        """, source: "guards", strict: true);

    private static readonly ConcurrentDictionary<string, Prepared<Acornima.Ast.Script>> Cache = new(StringComparer.Ordinal);
    private const long MaxCachedChars = 2 * 1024 * 1024;
    private static long _cachedChars;

    /// <summary>A short stable fingerprint of a script, for logs and cache keys.</summary>
    public static string Hash(string script) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(script)))[..16];

    /// <summary>
    /// Checks a script as the API does on save: size, syntax (line and column of the first error), and that running its
    /// top level under the limits defines a function <c>handler</c>. Returns null when it is usable, else why not.
    /// </summary>
    public static string? Check(string script)
    {
        if (Encoding.UTF8.GetByteCount(script) > MaxScriptBytes)
        {
            return $"The transformation is larger than {MaxScriptBytes / 1024} KiB.";
        }
        try
        {
            var engine = NewEngine(DateTimeOffset.UnixEpoch);
            Load(engine, script);
            return null;
        }
        catch (TransformationException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/>'s <c>handler</c> on <paramref name="input"/> under the limits and checks its result.
    /// Throws <see cref="TransformationException"/> (never anything else) when the script fails or its result breaks the
    /// rules: the payload must be JSON-serializable (at most <paramref name="maxBodyBytes"/> bytes, no getters, no
    /// cycles); the method POST, PUT or PATCH; the URL the endpoint's own origin (only path and query may change); the
    /// headers custom ones (<see cref="CustomHeaders.IsAllowed"/>), at most <see cref="CustomHeaders.MaxCount"/>.
    /// </summary>
    public static TransformationOutput Run(string script, TransformationInput input, int maxBodyBytes = WebhookEnvelope.DefaultMaxBytes)
    {
        if (Encoding.UTF8.GetByteCount(script) > MaxScriptBytes)
        {
            throw new TransformationException($"The transformation is larger than {MaxScriptBytes / 1024} KiB.");
        }
        try
        {
            var engine = NewEngine(input.Timestamp);
            var handler = Load(engine, script);
            var webhook = new Jint.Native.Json.JsonParser(engine).Parse(WebhookJson(input));
            JsValue result;
            try
            {
                result = engine.Invoke(handler, webhook);
            }
            catch (Exception ex) when (ex is not TransformationException)
            {
                throw Failed(ex);
            }
            return Read(result, input, maxBodyBytes);
        }
        catch (TransformationException)
        {
            throw;
        }
        catch (Exception ex)
        {
            // Anything else the engine may throw (an engine fault on hostile input) is still the script's failure.
            throw new TransformationException($"The transformation failed: {ex.GetType().Name}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The request a delivery makes: the body in <paramref name="format"/> (the envelope, or a Slack or Discord message),
    /// POSTed to <paramref name="url"/> with the endpoint's custom <paramref name="headers"/>; then, given a
    /// <paramref name="script"/>, what it makes of that. The worker sends this and the API previews it: one path.
    /// Throws <see cref="TransformationException"/> when the script fails.
    /// </summary>
    public static TransformationOutput Shape(
        string? format, string? script, string eventType, DateTimeOffset timestamp, string payload, string url, IReadOnlyDictionary<string, string> headers,
        int maxBodyBytes = WebhookEnvelope.DefaultMaxBytes, bool raw = false)
    {
        var body = ChatFormats.Render(format, eventType, timestamp, payload, raw);
        return script is null
            ? new TransformationOutput(body, "POST", url, new Dictionary<string, string>(headers), Cancel: false)
            : Run(script, new TransformationInput(eventType, body, url, "POST", headers, timestamp), maxBodyBytes);
    }

    private static Engine NewEngine(DateTimeOffset now) => new(options =>
    {
        options.Strict = true;
        options.Host.StringCompilationAllowed = false;
        options.TimeoutInterval(Timeout);
        options.MaxStatements(MaxStatements);
        options.LimitMemory(MaxMemoryBytes);
        options.LimitRecursion(MaxRecursion);
        options.Constraints.MaxArraySize = MaxArraySize;
        options.Constraints.RegexTimeout = TimeSpan.FromMilliseconds(100);
        options.TimeSystem = new FixedClock(now);
        options.Culture = CultureInfo.InvariantCulture;
        options.TimeZone = TimeZoneInfo.Utc;
    });

    /// <summary>Runs the script's top level in <paramref name="engine"/> and returns its <c>handler</c>.</summary>
    private static JsValue Load(Engine engine, string script)
    {
        foreach (var name in RemovedGlobals)
        {
            engine.Global.RemoveOwnProperty(name);
        }
        engine.Execute(Guards);
        try
        {
            engine.Execute(Prepare(script));
        }
        catch (Exception ex) when (ex is not TransformationException)
        {
            throw Failed(ex);
        }
        var handler = engine.Global.Get(HandlerName);
        if (handler is not Jint.Native.Function.Function)
        {
            throw new TransformationException("The transformation must define 'function handler(webhook)'.");
        }
        return handler;
    }

    private static Prepared<Acornima.Ast.Script> Prepare(string script)
    {
        if (Cache.TryGetValue(script, out var prepared))
        {
            return prepared;
        }
        try
        {
            prepared = Engine.PrepareScript(GuardTemplates(script), source: "transformation", strict: true);
        }
        catch (Exception ex)
        {
            throw Failed(ex);
        }
        if (Interlocked.Add(ref _cachedChars, script.Length) > MaxCachedChars)
        {
            Cache.Clear();
            Interlocked.Exchange(ref _cachedChars, script.Length);
        }
        Cache[script] = prepared;
        return prepared;
    }

    /// <summary>The global function a rewritten template literal calls.</summary>
    private const string TemplateFunction = "__webhooksTemplate";

    /// <summary>
    /// The script with each untagged template literal that has substitutions (<c>`a${x}b`</c>) rewritten into a call of
    /// the guarded template function (<c>__webhooksTemplate(["a","b"], (x))</c>): the engine builds a template's string
    /// in one step, past the memory limit, which the function refuses first. Lines stay where they were (a template's
    /// line breaks follow its call), so errors keep their line numbers. A script that does not parse is left as it is,
    /// for the engine to report.
    /// </summary>
    internal static string GuardTemplates(string script)
    {
        if (!script.Contains('`', StringComparison.Ordinal))
        {
            return script;
        }
        Acornima.Ast.Script ast;
        try
        {
            ast = new Acornima.Parser().ParseScript(script, "transformation", strict: true);
        }
        catch (Acornima.ParseErrorException)
        {
            return script;
        }
        var nodes = ast.DescendantNodes().ToList();
        var tagged = nodes.OfType<Acornima.Ast.TaggedTemplateExpression>().Select(t => t.Quasi).ToHashSet();
        var templates = nodes.OfType<Acornima.Ast.TemplateLiteral>().Where(t => t.Expressions.Count > 0 && !tagged.Contains(t))
            .OrderBy(t => t.Range.Start).ToList();
        return templates.Count == 0 ? script : Rewrite(script, 0, script.Length, templates);
    }

    private static string Rewrite(string source, int from, int to, List<Acornima.Ast.TemplateLiteral> templates)
    {
        var text = new StringBuilder();
        var at = from;
        foreach (var template in templates)
        {
            // Only the outermost ones of the span: those inside are rewritten with their enclosing expression.
            if (template.Range.Start < at || template.Range.End > to)
            {
                continue;
            }
            text.Append(source, at, template.Range.Start - at).Append(TemplateFunction).Append("([");
            text.AppendJoin(',', template.Quasis.Select(q => Quote(q.Value.Cooked ?? "")));
            text.Append(']');
            foreach (var expression in template.Expressions)
            {
                text.Append(",(").Append(Rewrite(source, expression.Range.Start, expression.Range.End, templates)).Append(')');
            }
            text.Append(')');
            text.Append('\n', template.Quasis.Sum(q => q.Value.Raw.Count(c => c == '\n')));
            at = template.Range.End;
        }
        return text.Append(source, at, to - at).ToString();
    }

    /// <summary>A JavaScript string literal of <paramref name="value"/>: printable ASCII as it is, everything else escaped.</summary>
    private static string Quote(string value)
    {
        var quoted = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\')
            {
                quoted.Append('\\').Append(c);
            }
            else if (c is >= ' ' and <= '~')
            {
                quoted.Append(c);
            }
            else
            {
                quoted.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
        }
        return quoted.Append('"').ToString();
    }

    /// <summary>The tenant-facing message of a script failure: where it happened when known, never the engine's internals.</summary>
    private static TransformationException Failed(Exception ex)
    {
        var parse = ex as ParseErrorException ?? ex.InnerException as ParseErrorException;
        var message = ex switch
        {
            _ when parse is not null => $"Syntax error at line {parse.LineNumber}, column {parse.Column}: {parse.Description}",
            JavaScriptException js => $"The script threw at line {js.Location.Start.Line}, column {js.Location.Start.Column + 1}: {js.Message}",
            System.Text.RegularExpressions.RegexMatchTimeoutException => "A regular expression in the script ran too long.",
            TimeoutException => $"The script ran longer than {Timeout.TotalMilliseconds} ms.",
            StatementsCountOverflowException => $"The script executed more than {MaxStatements} statements.",
            MemoryLimitExceededException m => $"The script used too much memory ({m.Message}).",
            RecursionDepthOverflowException => $"The script recursed deeper than {MaxRecursion} calls.",
            _ => $"The transformation failed: {ex.Message}",
        };
        return new TransformationException(message, ex);
    }

    private static string WebhookJson(TransformationInput input)
    {
        var buffer = new ArrayBufferWriter<byte>(input.Payload.Length + 512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("eventType", input.EventType);
            writer.WritePropertyName("payload");
            writer.WriteRawValue(input.Payload.Span, skipInputValidation: true);
            writer.WriteString("url", input.Url);
            writer.WriteString("method", input.Method);
            writer.WriteStartObject("headers");
            foreach (var (name, value) in input.Headers)
            {
                writer.WriteString(name, value);
            }
            writer.WriteEndObject();
            writer.WriteBoolean("cancel", false);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static TransformationOutput Read(JsValue result, TransformationInput input, int maxBodyBytes)
    {
        if (result is not ObjectInstance returned || result.IsArray())
        {
            throw new TransformationException("handler must return the webhook object (with its payload).");
        }
        var cancel = Property(returned, "cancel");
        if (cancel.IsBoolean() && cancel.AsBoolean())
        {
            return new TransformationOutput([], input.Method, input.Url, new Dictionary<string, string>(input.Headers), Cancel: true);
        }
        if (!cancel.IsUndefined() && !cancel.IsBoolean())
        {
            throw new TransformationException("'cancel' must be true or false.");
        }
        var payload = Property(returned, "payload");
        if (payload.IsUndefined())
        {
            throw new TransformationException("The returned webhook has no 'payload'.");
        }
        var body = Serialize(payload, maxBodyBytes);

        var method = Text(Property(returned, "method"), "method") ?? input.Method;
        method = method.ToUpperInvariant();
        if (!Methods.Contains(method, StringComparer.Ordinal))
        {
            throw new TransformationException("'method' must be POST, PUT or PATCH.");
        }
        var url = Text(Property(returned, "url"), "url") ?? input.Url;
        if (!SameOrigin(url, input.Url))
        {
            throw new TransformationException("'url' may change only the path and query: its scheme, host and port must stay the endpoint's.");
        }
        var headers = Headers(Property(returned, "headers"), input.Headers);
        return new TransformationOutput(body, method, url, headers, Cancel: false);
    }

    private static bool SameOrigin(string url, string original) =>
        url.Length <= 2048 &&
        Uri.TryCreate(url, UriKind.Absolute, out var changed) && Uri.TryCreate(original, UriKind.Absolute, out var endpoint) &&
        string.IsNullOrEmpty(changed.UserInfo) &&
        Uri.Compare(changed, endpoint, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0 &&
        !url.Any(char.IsControl);

    private static Dictionary<string, string> Headers(JsValue value, IReadOnlyDictionary<string, string> original)
    {
        if (value.IsUndefined())
        {
            return new Dictionary<string, string>(original);
        }
        if (value is not ObjectInstance obj || value.IsArray())
        {
            throw new TransformationException("'headers' must be an object of header names to string values.");
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, descriptor) in obj.GetOwnProperties())
        {
            if (!key.IsString() || !descriptor.Enumerable)
            {
                continue;
            }
            var name = key.AsString();
            if (descriptor.IsAccessorDescriptor() || !descriptor.Value.IsString())
            {
                throw new TransformationException($"Header '{name}' must be a string.");
            }
            var text = descriptor.Value.AsString();
            if (!CustomHeaders.IsAllowed(name, text))
            {
                throw new TransformationException(
                    $"Header '{name}' may not be set: names must be tokens, not reserved (webhook-*, content-*, host, …), and values printable.");
            }
            headers[name] = text;
        }
        if (headers.Count > CustomHeaders.MaxCount)
        {
            throw new TransformationException($"At most {CustomHeaders.MaxCount} headers.");
        }
        return headers;
    }

    private static string? Text(JsValue value, string name) =>
        value.IsUndefined() ? null : value.IsString() ? value.AsString() : throw new TransformationException($"'{name}' must be a string.");

    private static JsValue Property(ObjectInstance obj, string name)
    {
        var descriptor = obj.GetOwnProperty(name);
        if (descriptor == PropertyDescriptor.Undefined)
        {
            return JsValue.Undefined;
        }
        return descriptor.IsAccessorDescriptor()
            ? throw new TransformationException($"'{name}' must be a plain value, not a getter.")
            : descriptor.Value ?? JsValue.Undefined;
    }

    /// <summary>
    /// JSON of a script's value, written here rather than by <c>JSON.stringify</c>: no script code runs while it is read
    /// (getters are refused, <c>toJSON</c> ignored but for dates), cycles and depth are caught, and the size is capped as it
    /// is written, so a value that shares one big string a million times cannot grow a gigabyte body.
    /// </summary>
    private static byte[] Serialize(JsValue value, int maxBytes)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = false, MaxDepth = MaxDepth + 1 }))
        {
            Write(writer, buffer, value, [], 0, maxBytes);
        }
        if (buffer.WrittenCount > maxBytes)
        {
            throw TooLarge(maxBytes);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static TransformationException TooLarge(int maxBytes) => new($"The transformed payload is larger than {maxBytes} bytes.");

    private static void Write(Utf8JsonWriter writer, ArrayBufferWriter<byte> buffer, JsValue value, HashSet<ObjectInstance> path, int depth, int maxBytes)
    {
        if (writer.BytesPending + buffer.WrittenCount > maxBytes)
        {
            throw TooLarge(maxBytes);
        }
        if (writer.BytesPending > 16 * 1024)
        {
            writer.Flush();
        }
        switch (value)
        {
            case var _ when value.IsNull() || value.IsUndefined():
                writer.WriteNullValue();
                return;
            case var _ when value.IsBoolean():
                writer.WriteBooleanValue(value.AsBoolean());
                return;
            case var _ when value.IsNumber():
                var number = value.AsNumber();
                if (double.IsFinite(number))
                {
                    writer.WriteNumberValue(number);
                }
                else
                {
                    writer.WriteNullValue();
                }
                return;
            case var _ when value.IsString():
                var text = value.AsString();
                if (text.Length > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }
                writer.WriteStringValue(text);
                return;
            case JsDate date:
                writer.WriteStringValue(double.IsNaN(date.DateValue) ? null : date.ToDateTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                return;
            case ObjectInstance obj when value.IsArray() || obj is not Jint.Native.Function.Function:
                if (depth >= MaxDepth)
                {
                    throw new TransformationException($"The transformed payload is nested deeper than {MaxDepth} levels.");
                }
                if (!path.Add(obj))
                {
                    throw new TransformationException("The transformed payload is circular.");
                }
                if (value.IsArray())
                {
                    writer.WriteStartArray();
                    var array = value.AsArray();
                    var length = array.Length;
                    for (uint i = 0; i < length; i++)
                    {
                        var descriptor = array.GetOwnProperty(i);
                        Write(writer, buffer, Plain(descriptor, i.ToString(CultureInfo.InvariantCulture)), path, depth + 1, maxBytes);
                    }
                    writer.WriteEndArray();
                }
                else
                {
                    writer.WriteStartObject();
                    foreach (var (key, descriptor) in obj.GetOwnProperties())
                    {
                        if (!key.IsString() || !descriptor.Enumerable)
                        {
                            continue;
                        }
                        var item = Plain(descriptor, key.AsString());
                        if (item.IsUndefined() || item is Jint.Native.Function.Function)
                        {
                            continue;
                        }
                        writer.WritePropertyName(key.AsString());
                        Write(writer, buffer, item, path, depth + 1, maxBytes);
                    }
                    writer.WriteEndObject();
                }
                path.Remove(obj);
                return;
            default:
                // Functions, symbols, BigInt: JSON has no spelling for them.
                throw new TransformationException($"The transformed payload holds a value JSON cannot represent ({value.Type}).");
        }
    }

    private static JsValue Plain(PropertyDescriptor descriptor, string name) =>
        descriptor == PropertyDescriptor.Undefined ? JsValue.Undefined
        : descriptor.IsAccessorDescriptor() ? throw new TransformationException($"The transformed payload has a getter ('{name}'): only plain values can be sent.")
        : descriptor.Value ?? JsValue.Undefined;

    /// <summary>The only clock a script sees: the message's timestamp, in UTC.</summary>
    private sealed class FixedClock(DateTimeOffset now) : ITimeSystem
    {
        private static readonly DefaultTimeSystem Default = new(TimeZoneInfo.Utc, CultureInfo.InvariantCulture);

        public TimeZoneInfo DefaultTimeZone => TimeZoneInfo.Utc;

        public DateTimeOffset GetUtcNow() => now;

        public bool TryParse(string date, out long epochMilliseconds) => Default.TryParse(date, out epochMilliseconds);

        public TimeSpan GetUtcOffset(long epochMilliseconds) => TimeSpan.Zero;
    }
}
