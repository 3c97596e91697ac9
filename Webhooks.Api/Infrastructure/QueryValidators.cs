using FluentValidation;
using Webhooks.Api.Endpoints;
using Webhooks.Client;
using Webhooks.Core;

namespace Webhooks.Api.Infrastructure;

/// <summary>A page of a list ordered by name or id: <c>limit</c> (1–250) and the <c>iterator</c> of the previous page.</summary>
public sealed record PageQuery(int? Limit = null, string? Iterator = null);

public sealed class PageQueryValidator : AbstractValidator<PageQuery>
{
    public PageQueryValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator!).MaximumLength(256).Matches("^[a-zA-Z0-9_.-]+\\z").When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
    }
}

public sealed class MessageQueryValidator : AbstractValidator<MessageQuery>
{
    /// <summary>How far back a payload search may reach: each payload in its range is parsed.</summary>
    public static readonly TimeSpan PayloadSearchWindow = TimeSpan.FromDays(31);

    /// <summary>A search's payload filter, translated; or why it cannot be used (not JSON, or not a valid filter).</summary>
    public static (Webhooks.Core.Delivery.PayloadFilter? Filter, IReadOnlyList<string> Errors) PayloadFilterOf(string text)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(text, new System.Text.Json.JsonDocumentOptions { MaxDepth = 32 });
            // The endpoint filter's own rules, storable numbers included (1e200000 would overflow the path's cast).
            var (filter, errors) = FilterRules.Parse(document.RootElement);
            return (filter, errors.Select(e => $"{e.Field.Replace("filter", "payloadFilter", StringComparison.Ordinal)}: {e.Message}").ToList());
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (null, [$"'payloadFilter' is not valid JSON: {ex.Message}"]);
        }
    }

    public MessageQueryValidator(TimeProvider time)
    {
        RuleFor(q => q.Since).Must(since => since is { } s && s >= time.GetUtcNow() - PayloadSearchWindow)
            .When(q => q.PayloadFilter is not null)
            .WithMessage($"A payload search reads every payload of its range: give 'since', at most {PayloadSearchWindow.TotalDays:0} days back.");
        RuleFor(q => q.EventType!).SetValidator(new EventTypeNameValidator()).When(q => q.EventType is not null);
        RuleFor(q => q.Channel!).IsChannel().When(q => q.Channel is not null);
        RuleFor(q => q.Until).GreaterThan(q => q.Since).When(q => q.Since is not null && q.Until is not null)
            .WithMessage("'until' must be after 'since'.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator).Must(i => Ids.IsValid(i, Ids.Message)).When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
        RuleFor(q => q.NewerThan).Must(i => Ids.IsValid(i, Ids.Message)).When(q => q.NewerThan is not null)
            .WithMessage("'newerThan' must be a message id (the first of a page).");
        RuleFor(q => q.NewerThan).Null().When(q => q.Iterator is not null).WithMessage("Give 'iterator' or 'newerThan', not both.");
        RuleFor(q => q.Status).Must(s => MessageStatuses.All.Contains(s!)).When(q => q.Status is not null)
            .WithMessage($"'status' must be one of: {string.Join(", ", MessageStatuses.All)}.");
        RuleFor(q => q.EndpointId).Must(e => Ids.IsValid(e, Ids.Endpoint)).When(q => q.EndpointId is not null)
            .WithMessage("'endpointId' must be an endpoint id (ep_…).");
        RuleFor(q => q.PayloadFilter!).Custom((text, context) =>
        {
            foreach (var error in PayloadFilterOf(text).Errors)
            {
                context.AddFailure("payloadFilter", error);
            }
        }).When(q => q.PayloadFilter is not null);
        RuleFor(q => q.Search!).Length(1, 256).Must(Text.IsPrintable).When(q => q.Search is not null)
            .WithMessage("'search' must be 1 to 256 printable characters: a message id, an idempotency key or an event id.");
    }
}

public sealed class DeliveryQueryValidator : AbstractValidator<DeliveryQuery>
{
    public static readonly string[] Statuses = ["pending", "in_flight", "succeeded", "failed", "exhausted", "cancelled"];

    public DeliveryQueryValidator()
    {
        RuleFor(q => q.Status).Must(s => Statuses.Contains(s)).When(q => q.Status is not null)
            .WithMessage($"'status' must be one of: {string.Join(", ", Statuses)}.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator).Must(i => long.TryParse(i, out var id) && id > 0).When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
    }
}

public sealed class AttemptQueryValidator : AbstractValidator<AttemptQuery>
{
    public AttemptQueryValidator()
    {
        RuleFor(q => q.Status).Must(s => s is "succeeded" or "failed").When(q => q.Status is not null)
            .WithMessage("'status' must be succeeded or failed.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator).Must(i => Ids.IsValid(i, Ids.Attempt)).When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
    }
}

/// <summary>
/// A list's time filter as the database and the ids take it: in UTC (Npgsql writes no other offset), and as an id
/// bound that saturates at the ends of the calendar, so <c>since=0001-01-01T00:00:00Z</c> and
/// <c>until=9999-12-31T23:59:59Z</c> are filters like any other (everything), not an overflow.
/// </summary>
public static class TimeFilter
{
    // An id is made a moment before or after its row's time is read: a second of slack on the id bound.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    public static DateTimeOffset Utc(DateTimeOffset time) => time.ToUniversalTime();

    /// <summary>No id of a row created at or after <paramref name="since"/> sorts below this one.</summary>
    public static string IdsFrom(string prefix, DateTimeOffset since) =>
        Ids.LowerBound(prefix, since.UtcDateTime - DateTime.MinValue < Slack ? DateTimeOffset.MinValue : since - Slack);

    /// <summary>Every id of a row created before <paramref name="until"/> sorts below this one.</summary>
    public static string IdsBefore(string prefix, DateTimeOffset until) =>
        Ids.LowerBound(prefix, DateTime.MaxValue - until.UtcDateTime < Slack ? DateTimeOffset.MaxValue : until + Slack);
}
