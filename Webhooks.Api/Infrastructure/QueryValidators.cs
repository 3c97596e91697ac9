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
        RuleFor(q => q.Iterator!).MaximumLength(256).Matches("^[a-zA-Z0-9_.-]+$").When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
    }
}

public sealed class MessageQueryValidator : AbstractValidator<MessageQuery>
{
    public MessageQueryValidator()
    {
        RuleFor(q => q.EventType!).SetValidator(new EventTypeNameValidator()).When(q => q.EventType is not null);
        RuleFor(q => q.Channel!).MaximumLength(128).Matches("^[a-zA-Z0-9_.:-]+$").When(q => q.Channel is not null);
        RuleFor(q => q.Until).GreaterThan(q => q.Since).When(q => q.Since is not null && q.Until is not null)
            .WithMessage("'until' must be after 'since'.");
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator).Must(i => Ids.IsValid(i, Ids.Message)).When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
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
