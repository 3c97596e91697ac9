using FluentValidation;

namespace Webhooks.Api.Infrastructure;

// Rules that several features share live here, so feature folders do not borrow each other's validators.

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

public sealed class EventTypeNameValidator : AbstractValidator<string>
{
    public EventTypeNameValidator()
    {
        RuleFor(name => name).NotEmpty().MaximumLength(MaxLength).Matches(Pattern)
            .WithMessage("An event type name may contain only letters, digits, '_', '.' and '-'.");
    }

    public const int MaxLength = 256;
    public const string Pattern = "^[a-zA-Z0-9_.-]+\\z";
    private static readonly System.Text.RegularExpressions.Regex Name = new(Pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public static bool IsValid(string? name) => !string.IsNullOrEmpty(name) && name.Length <= MaxLength && Name.IsMatch(name);
}

/// <summary>A channel name: letters, digits, '_', '.', ':' and '-', at most 128 characters.</summary>
public static class ChannelRules
{
    public const int MaxLength = 128;
    public const string Pattern = "^[a-zA-Z0-9_.:-]+\\z";

    public static IRuleBuilderOptions<T, string> IsChannel<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().MaximumLength(MaxLength).Matches(Pattern);
}

/// <summary>Free key-value metadata (applications, endpoints): bounded so a tenant cannot store megabytes in it.</summary>
public static class MetadataRules
{
    public const string Rule = "At most 50 metadata entries, keys up to 256 and values up to 4096 characters.";

    public static bool IsValid(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Count <= 50 && metadata.All(kv => kv.Key.Length <= 256 && (kv.Value?.Length ?? 0) <= 4096);
}
