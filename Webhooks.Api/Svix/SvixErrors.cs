using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;

namespace Webhooks.Api.Svix;

/// <summary>The paths that belong to Svix's API (not this server's own <c>/api/v1/apps</c> routes).</summary>
public static class SvixSurface
{
    /// <summary>Svix's top-level collections under <c>/api/v1</c>; a request to one of them is answered in Svix's shapes.</summary>
    public static readonly string[] Collections =
        ["app", "event-type", "auth", "health", "environment", "stats", "operational-webhook", "background-task", "integration", "connector", "message-poller"];

    public static bool Is(PathString path)
    {
        if (!path.StartsWithSegments("/api/v1", out var rest) || !rest.HasValue)
        {
            return false;
        }
        var first = rest.Value!.AsSpan(1);
        var slash = first.IndexOf('/');
        var segment = slash < 0 ? first : first[..slash];
        foreach (var collection in Collections)
        {
            // Routing matches paths whatever their case: so does this.
            if (segment.Equals(collection, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>
/// On Svix's paths, every error this API raises — a validation failure, a missing key, a 404, an outage — is written as
/// Svix writes it: <c>{"code", "detail"}</c>, and a validation failure as 422 <c>{"detail": [{"loc", "msg", "type"}]}</c>,
/// so its SDKs raise their <c>ApiException</c> with the body they expect. Everything else keeps problem details (RFC 9457).
/// </summary>
public sealed partial class SvixProblemWriter : IProblemDetailsWriter
{
    /// <summary>The title of a problem about a body or value that could not be read as the JSON expected (as the exception handler writes it).</summary>
    public const string UnreadableTitle = "The request could not be read.";

    /// <summary>A problem's extension that sets the Svix <c>code</c> (else it follows from the status).</summary>
    public const string CodeExtension = "svixCode";

    public bool CanWrite(ProblemDetailsContext context) => SvixSurface.Is(context.HttpContext.Request.Path);

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        var status = problem.Status ?? http.Response.StatusCode;
        object body;
        if (problem is HttpValidationProblemDetails { Errors.Count: > 0 } invalid && status is 400 or 422)
        {
            status = 422;
            var type = problem.Title == UnreadableTitle ? "value_error.jsondecode" : "value_error";
            body = new ValidationOut(invalid.Errors
                .SelectMany(e => e.Value.Select(message => new ValidationItem(Location(http, e.Key), message, type)))
                .ToList());
        }
        else
        {
            var code = problem.Extensions.TryGetValue(CodeExtension, out var given) && given is string text ? text : CodeOf(status);
            body = new ErrorOut(code, problem.Detail ?? problem.Title ?? "The request failed.");
        }
        http.Response.StatusCode = status;
        return new ValueTask(http.Response.WriteAsJsonAsync(body, body.GetType(), Json, contentType: "application/json"));
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string CodeOf(int status) => status switch
    {
        400 => "generic_error",
        401 => "authentication_failed",
        403 => "insufficient access",
        404 or 405 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        422 => "validation",
        429 => "rate_limited",
        501 => "not_implemented",
        503 => "service_unavailable",
        _ => status >= 500 ? "server_error" : "generic_error",
    };

    /// <summary>Svix's <c>loc</c>: where the field was (<c>body</c>, <c>query</c> or <c>path</c>), then its path in the body.</summary>
    private static IReadOnlyList<string> Location(HttpContext http, string field)
    {
        var parts = FieldPath().Split(field).Where(p => p.Length > 0).ToList();
        var first = parts.Count > 0 ? parts[0] : "body";
        if (http.Request.Query.ContainsKey(first) || http.Request.Query.ContainsKey(Snake(first)))
        {
            return ["query", http.Request.Query.ContainsKey(first) ? first : Snake(first)];
        }
        if (http.Request.RouteValues.ContainsKey(first))
        {
            return ["path", first];
        }
        return first == "body" ? ["body"] : ["body", .. parts];
    }

    private static string Snake(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    [GeneratedRegex(@"[.\[\]]")]
    private static partial Regex FieldPath();

    private sealed record ErrorOut(string Code, string Detail);

    private sealed record ValidationOut(IReadOnlyList<ValidationItem> Detail);

    private sealed record ValidationItem(IReadOnlyList<string> Loc, string Msg, string Type);
}
