using Microsoft.AspNetCore.Mvc;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// A NUL character (<c>%00</c>) in the path, the query string or a submitted form is refused with 400 before any route
/// reads it: Postgres text cannot hold one, and every text parameter ends up in a query. (JSON bodies are checked field
/// by field by <see cref="RequestShape"/>.)
/// </summary>
public static class NulGuard
{
    public static IApplicationBuilder UseNulGuard(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        var message = "The value contains a NUL character (%00), which no parameter may hold.";
        string? field;
        try
        {
            field = HasNul(request.Path.Value) ? "path"
                : request.QueryString.HasValue && HasEncodedNul(request.QueryString.Value) ? Offending(request.Query) ?? "query"
                // An ingest URL reads its raw body itself (the sender's signature covers the bytes): no form is read here.
                : request.HasFormContentType && !request.Path.StartsWithSegments("/ingest") ? Offending(await request.ReadFormAsync(context.RequestAborted))
                : null;
        }
        catch (InvalidDataException ex)
        {
            // The form reader itself refuses a NUL in a form value (and a form past its limits): the sender's error, a 400.
            field = "form";
            if (ex.InnerException?.Message.Contains("null characters", StringComparison.Ordinal) != true)
            {
                message = $"The form could not be read: {ex.Message}";
            }
        }
        if (field is null)
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [field] = [message],
            })
            {
                Type = Problems.Validation,
                Title = "The request is invalid.",
                Status = StatusCodes.Status400BadRequest,
            },
        });
    });

    /// <summary>The first parameter (named as sent) whose name or value holds a NUL, or null.</summary>
    private static string? Offending(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> values) =>
        values.Where(v => HasNul(v.Key) || v.Value.Any(HasNul)).Select(v => HasNul(v.Key) ? "query" : v.Key).FirstOrDefault();

    private static bool HasNul(string? value) => value is not null && value.Contains('\0', StringComparison.Ordinal);

    private static bool HasEncodedNul(string? value) => value is not null && value.Contains("%00", StringComparison.Ordinal);
}
