using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Webhooks.Api.Infrastructure;

/// <summary>The stable <c>type</c> URIs of this API's problem details (RFC 9457).</summary>
public static class Problems
{
    private const string Base = "https://webhooks-aspire.dev/problems/";
    public const string Validation = Base + "validation";
    public const string MalformedRequest = Base + "malformed-request";
    public const string NotFoundType = Base + "not-found";
    public const string Unauthorized = Base + "unauthorized";
    public const string Conflict = Base + "conflict";
    public const string Internal = Base + "internal";
    public const string PayloadRejected = Base + "payload-rejected";
    public const string Forbidden = Base + "forbidden";
    public const string Unavailable = Base + "unavailable";
    public const string TooManyRequests = Base + "too-many-requests";

    public static ProblemHttpResult ConflictProblem(string detail) =>
        TypedResults.Problem(type: Conflict, title: "Conflict", detail: detail, statusCode: 409);

    public static ProblemHttpResult ForbiddenProblem(string detail) =>
        TypedResults.Problem(type: Forbidden, title: "Forbidden", detail: detail, statusCode: 403);

    /// <summary>422: the request is well formed, but a payload does not match its event type (schema, or archived).</summary>
    public static ProblemHttpResult Rejected(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Type = PayloadRejected, Title = "The payload does not match its event type.", Status = 422 });

    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(type: NotFoundType, title: "Not found", statusCode: 404, detail: $"{what} does not exist.");

    public static ValidationProblem Invalid(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is invalid.", type: Validation);

    public static ValidationProblem Invalid(string field, string message) => Invalid(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>The error code of a validation failure about a well-formed value that cannot be processed: 422, not 400.</summary>
    public const string UnprocessableCode = "unprocessable";

    /// <summary>422: the request is well formed, but a value in it cannot be processed (a schema that cannot be evaluated safely).</summary>
    public static ProblemHttpResult Unprocessable(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Type = Validation, Title = "The request cannot be processed.", Status = 422 });
}

/// <summary>Runs the FluentValidation validator of <typeparamref name="T"/> on the bound argument before the handler.</summary>
public sealed class ValidationFilter<T>(IValidator<T> validator) : IEndpointFilter where T : class
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.Arguments.OfType<T>().FirstOrDefault() is { } argument)
        {
            if (RequestShape.Problems(argument) is { Count: > 0 } malformed)
            {
                return Problems.Invalid(malformed);
            }
            var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
            if (!result.IsValid)
            {
                return result.Errors.All(e => e.ErrorCode == Problems.UnprocessableCode)
                    ? Problems.Unprocessable(result.ToDictionary())
                    : Problems.Invalid(result.ToDictionary());
            }
        }
        return await next(context);
    }
}

public static class ValidationFilterExtensions
{
    public static RouteHandlerBuilder Validate<T>(this RouteHandlerBuilder builder) where T : class =>
        builder.AddEndpointFilter<ValidationFilter<T>>().ProducesValidationProblem();
}

/// <summary>
/// Turns a request that could not be read (malformed JSON, wrong types, a body too large) into a 400/413
/// problem naming the field, and anything unexpected into a 500 problem that reveals nothing internal.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, Webhooks.Core.Hosting.DependencyOutages outages, ILogger<ProblemExceptionHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        if (exception is BadHttpRequestException bad)
        {
            var status = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? 413 : 400;
            var json = FindJsonException(bad);
            var field = json?.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : ParameterOf(bad.Message) ?? "body";
            problem = new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [field] = [json is null ? bad.Message : "The value is not valid JSON of the expected type."],
            })
            {
                Type = status == 413 ? Problems.MalformedRequest : Problems.Validation,
                Title = status == 413 ? "The request body is too large." : "The request could not be read.",
                Status = status,
            };
        }
        else if (exception is Transformations.ScriptsBusyException busy)
        {
            httpContext.Response.Headers.RetryAfter = "1";
            problem = new ProblemDetails { Type = Problems.TooManyRequests, Title = "Too many requests.", Status = 429, Detail = busy.Message };
        }
        else if (FindUnstorableText(exception) is { } unstorable)
        {
            // A backstop for text no check caught: a character Postgres cannot store is the caller's input, not our failure.
            problem = new ProblemDetails
            {
                Type = Problems.Validation,
                Title = "The request could not be read.",
                Status = 400,
                Detail = "A value contains a character that cannot be stored (" + unstorable.MessageText + ").",
            };
        }
        else if (Webhooks.Core.Hosting.DependencyOutage.IsOutage(exception))
        {
            // One log line for the outage (not a stack trace per request); the caller learns it can retry.
            var retryAfter = outages.Postgres.Failed(exception);
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            problem = Unavailable();
        }
        else
        {
            LogUnhandled(exception, httpContext.Request.Method, UrlTokenRedaction.Redact(httpContext.Request.Path.Value));
            problem = new ProblemDetails
            {
                Type = Problems.Internal,
                Title = "An unexpected error occurred.",
                Status = 500,
                Detail = "The error has been logged; the request may be retried.",
            };
        }
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>503: the database did not answer in time. Nothing is half-done: a publish either committed or did not.</summary>
    public static ProblemDetails Unavailable() => new()
    {
        Type = Problems.Unavailable,
        Title = "The service is temporarily unavailable.",
        Status = 503,
        Detail = "The database did not answer in time. Retry the request; a publish retried with the same idempotency key is stored at most once.",
    };

    // Route and query binding failures read: Failed to bind parameter "int? limit" from "abc".
    private static string? ParameterOf(string message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message, "^Failed to bind parameter \"(?:[^\"]* )?([A-Za-z0-9_]+)\"");
        return match.Success ? JsonNamingPolicy.CamelCase.ConvertName(match.Groups[1].Value) : null;
    }

    private static Npgsql.PostgresException? FindUnstorableText(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.CharacterNotInRepertoire or Npgsql.PostgresErrorCodes.UntranslatableCharacter } postgres)
            {
                return postgres;
            }
        }
        return null;
    }

    private static JsonException? FindJsonException(Exception exception)
    {
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json;
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
