using FluentValidation;
using Webhooks.Client;

namespace Webhooks.Api.Applications;

public sealed class ApplicationInValidator : AbstractValidator<ApplicationIn>
{
    public ApplicationInValidator()
    {
        RuleFor(a => a.Name).NotEmpty().MaximumLength(256).Must(Text.IsPrintable).WithMessage("'name' must not contain control characters.");
        RuleFor(a => a.Uid!).Length(1, 256).Matches("^[a-zA-Z0-9_.-]+$")
            .WithMessage("'uid' may contain only letters, digits, '_', '.' and '-'.")
            .Must(uid => !uid.StartsWith("app_", StringComparison.Ordinal)).WithMessage("'uid' must not start with 'app_' (reserved for ids).")
            .When(a => a.Uid is not null);
        RuleFor(a => a.RetrySchedule!).SetValidator(new RetryScheduleValidator()).When(a => a.RetrySchedule is not null);
    }
}

/// <summary>Retry delays in seconds: the first is the wait before the first attempt (normally 0).</summary>
public sealed class RetryScheduleValidator : AbstractValidator<IReadOnlyList<int>>
{
    public const int MaxAttempts = 20;
    public const int MaxDelaySeconds = 7 * 24 * 3600;

    public RetryScheduleValidator()
    {
        RuleFor(s => s.Count).InclusiveBetween(1, MaxAttempts).OverridePropertyName("").WithMessage($"A retry schedule has 1 to {MaxAttempts} delays.");
        RuleForEach(s => s).InclusiveBetween(0, MaxDelaySeconds).OverridePropertyName("").WithMessage($"Each delay is 0 to {MaxDelaySeconds} seconds.");
    }
}

public static class Text
{
    public static bool IsPrintable(string? value) => value is null || !value.Any(char.IsControl);
}
