using FluentValidation;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;

namespace Webhooks.Api.Applications;

public sealed class ApplicationInValidator : AbstractValidator<ApplicationIn>
{
    public ApplicationInValidator()
    {
        RuleFor(a => a.Name).NotEmpty().MaximumLength(256).Must(Text.IsPrintable).WithMessage("'name' must not contain control characters.");
        RuleFor(a => a.Uid!).Length(1, 256).Matches("^[a-zA-Z0-9_.-]+\\z")
            .WithMessage("'uid' may contain only letters, digits, '_', '.' and '-'.")
            .Must(uid => !uid.StartsWith("app_", StringComparison.Ordinal)).WithMessage("'uid' must not start with 'app_' (reserved for ids).")
            .When(a => a.Uid is not null);
        RuleFor(a => a.RetrySchedule!).SetValidator(new RetryScheduleValidator()).When(a => a.RetrySchedule is not null);
    }
}

