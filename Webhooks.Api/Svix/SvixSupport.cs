using System.Linq.Expressions;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Core;
using Webhooks.Core.Data;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Svix;

/// <summary>Svix's cursor pages: <c>limit</c> (1–250, default 50), <c>iterator</c> (the last key of a page; <c>-key</c> pages back).</summary>
public static class SvixPaging
{
    private sealed class Bound(string value)
    {
        public string Value { get; } = value;
    }

    /// <summary>
    /// One page of <paramref name="query"/> ordered by <paramref name="key"/> (ids and names sort as they were created or
    /// named). <paramref name="iterator"/> continues after its key in the list's order; prefixed with <c>-</c>, the page is
    /// the one before that key. <c>done</c>: nothing more in the direction paged.
    /// </summary>
    public static async Task<SvixList<TOut>> PageAsync<T, TOut>(
        IQueryable<T> query, Expression<Func<T, string>> key, bool descending, string? iterator, int? limit, Func<T, TOut> map, CancellationToken ct)
    {
        var take = Paging.Clamp(limit);
        var backwards = iterator is { Length: > 1 } && iterator[0] == '-';
        var after = backwards ? iterator![1..] : iterator;
        // Paging back walks the list's order in reverse, then turns the page round.
        var reverse = descending != backwards;
        if (after is not null)
        {
            var compare = Expression.Call(typeof(string).GetMethod(nameof(string.Compare), [typeof(string), typeof(string)])!,
                key.Body, Expression.Property(Expression.Constant(new Bound(after)), nameof(Bound.Value)));
            var zero = Expression.Constant(0);
            query = query.Where(Expression.Lambda<Func<T, bool>>(reverse ? Expression.LessThan(compare, zero) : Expression.GreaterThan(compare, zero), key.Parameters));
        }
        query = reverse ? query.OrderByDescending(key) : query.OrderBy(key);
        var rows = await query.Take(take + 1).ToListAsync(ct);
        var done = rows.Count <= take;
        var page = done ? rows : rows[..take];
        if (backwards)
        {
            page.Reverse();
        }
        var keyOf = key.Compile();
        return new SvixList<TOut>(page.Select(map).ToList(), done,
            page.Count > 0 ? keyOf(page[^1]) : null,
            page.Count > 0 ? "-" + keyOf(page[0]) : null);
    }

    /// <summary>Svix's <c>order</c>: <c>ascending</c> or <c>descending</c>; null when the value is neither.</summary>
    public static bool? Descending(string? order, bool byDefault) => order switch
    {
        null => byDefault,
        "descending" => true,
        "ascending" => false,
        _ => null,
    };
}

/// <summary>The checks of the Svix surface, answered as its 422 (the problem writer turns them into Svix's shape).</summary>
public static class SvixChecks
{
    /// <summary>Svix's <c>uidStr</c> and event-type names: letters, digits, '-', '_' and '.', 1 to 256 characters.</summary>
    public static bool IsUid(string? value, int max = 256) =>
        value is { Length: > 0 } && value.Length <= max && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static ValidationProblem Invalid(string field, string message) => Problems.Invalid(field, message);

    /// <summary>The request-shape and validator errors of <paramref name="value"/>, with our field names as Svix names them.</summary>
    public static async Task<Dictionary<string, string[]>?> ValidateAsync<T>(IValidator<T> validator, T value, CancellationToken ct,
        IReadOnlyDictionary<string, string>? rename = null) where T : class
    {
        var errors = RequestShape.Problems(value);
        if (errors.Count == 0)
        {
            var result = await validator.ValidateAsync(value, ct);
            errors = result.ToDictionary().ToDictionary();
        }
        if (errors.Count == 0)
        {
            return null;
        }
        return rename is null
            ? errors
            : errors.ToDictionary(e => rename.Aggregate(e.Key, (field, r) => field.StartsWith(r.Key, StringComparison.Ordinal) ? r.Value + field[r.Key.Length..] : field), e => e.Value);
    }

    /// <summary>
    /// A PATCH: <paramref name="current"/> (as JSON) with the body's fields laid over it; a field absent keeps its value,
    /// a null clears it. Else the 422 to answer: the body is not a JSON object, or a field has the wrong JSON type.
    /// </summary>
    public static (T? Merged, IResult? Refused) Merge<T>(T current, JsonElement patch) where T : class
    {
        if (patch.ValueKind != JsonValueKind.Object)
        {
            return (null, Invalid("body", "The body must be a JSON object."));
        }
        var merged = JsonSerializer.SerializeToNode(current, Json)!.AsObject();
        foreach (var property in patch.EnumerateObject())
        {
            merged[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        }
        try
        {
            return (merged.Deserialize<T>(Json), null);
        }
        catch (JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
            return (null, Unreadable(field, "The value is not valid JSON of the expected type."));
        }
    }

    /// <summary>422 for a value of the wrong JSON type (Svix's <c>value_error.jsondecode</c>).</summary>
    public static IResult Unreadable(string field, string message) =>
        TypedResults.Problem(new Microsoft.AspNetCore.Http.HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Title = SvixProblemWriter.UnreadableTitle,
            Status = 422,
        });

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A query's comma-separated (or repeated) list, as Svix's SDKs send <c>event_types</c>.</summary>
    public static string[]? ListOf(Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 0 ? null : values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
}

/// <summary>Finding a resource by id or by the uid its client chose, as every Svix path allows.</summary>
public static class SvixLookup
{
    public static Task<Endpoint?> FindEndpointAsync(this WebhooksDbContext db, Application application, string idOrUid, CancellationToken ct) =>
        Ids.IsValid(idOrUid, Ids.Endpoint)
            ? db.Endpoints.FirstOrDefaultAsync(e => e.Id == idOrUid && e.ApplicationId == application.Id, ct)
            : db.Endpoints.FirstOrDefaultAsync(e => e.Uid == idOrUid && e.ApplicationId == application.Id, ct);

    public static Task<Message?> FindMessageAsync(this WebhooksDbContext db, Application application, string idOrEventId, CancellationToken ct) =>
        Ids.IsValid(idOrEventId, Ids.Message)
            ? db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == idOrEventId && m.ApplicationId == application.Id, ct)
            : db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.EventId == idOrEventId && m.ApplicationId == application.Id, ct);

    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(statusCode: 404, detail: $"{what} not found.");

    public static ProblemHttpResult Conflict(string detail, string code = "conflict") =>
        TypedResults.Problem(statusCode: 409, detail: detail, extensions: new Dictionary<string, object?> { [SvixProblemWriter.CodeExtension] = code });
}
