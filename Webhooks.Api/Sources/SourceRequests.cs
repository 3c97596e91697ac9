using FluentValidation;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;

namespace Webhooks.Api.Sources;

public sealed class SourceInValidator : AbstractValidator<SourceIn>
{
    public SourceInValidator(SourceTypeRegistry types)
    {
        RuleFor(s => s.Name).IsSourceName();
        RuleFor(s => s.Type).NotEmpty().Must(types.Contains)
            .WithMessage($"'type' must be one of: {string.Join(", ", types.Names)}.");
        RuleFor(s => s.RateLimitPerSecond).IsSourceRateLimit();
        RuleFor(s => s.Secret).Custom((secret, context) =>
        {
            var type = types.Find(context.InstanceToValidate.Type);
            if (type is null)
            {
                return;
            }
            if (secret is null)
            {
                if (type.GenerateSecret() is null)
                {
                    context.AddFailure("secret", $"A '{type.Name}' source needs the secret its sender shows (none can be generated here).");
                }
                return;
            }
            if (type.CheckSecret(secret) is { } error)
            {
                context.AddFailure("secret", error);
            }
        });
    }
}

public sealed class SourceUpdateInValidator : AbstractValidator<SourceUpdateIn>
{
    public SourceUpdateInValidator()
    {
        RuleFor(s => s.Name).IsSourceName();
        RuleFor(s => s.RateLimitPerSecond).IsSourceRateLimit();
    }
}

/// <summary>The secret is checked against the source's type in the route, which knows the type.</summary>
public sealed class RotateSourceSecretInValidator : AbstractValidator<RotateSourceSecretIn>
{
    public RotateSourceSecretInValidator() => RuleFor(r => r.Secret!).Length(1, 256).When(r => r.Secret is not null);
}

public sealed record SourceEventQuery(int? Limit = null, string? Iterator = null, string? Outcome = null);

public sealed class SourceEventQueryValidator : AbstractValidator<SourceEventQuery>
{
    public SourceEventQueryValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator!).Must(i => long.TryParse(i, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            .WithMessage("'iterator' is the 'iterator' of the previous page.").When(q => q.Iterator is not null);
        RuleFor(q => q.Outcome!).Must(o => o is SourceEventOutcomes.Published or SourceEventOutcomes.Duplicate or SourceEventOutcomes.Refused)
            .WithMessage("'outcome' must be published, duplicate or refused.").When(q => q.Outcome is not null);
    }
}

internal static class SourceRules
{
    public const int MaxRateLimitPerSecond = 10_000;

    public static IRuleBuilderOptions<T, string> IsSourceName<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().MaximumLength(128).Must(Text.IsPrintable).WithMessage("'name' must be 1 to 128 printable characters.");

    public static IRuleBuilderOptions<T, int?> IsSourceRateLimit<T>(this IRuleBuilder<T, int?> rule) =>
        rule.InclusiveBetween(1, MaxRateLimitPerSecond).WithMessage($"'rateLimitPerSecond' must be 1 to {MaxRateLimitPerSecond}.");
}

/// <summary>The source types this process knows (every registered <see cref="SourceType"/>), by name.</summary>
public sealed class SourceTypeRegistry(IEnumerable<SourceType> types)
{
    private readonly Dictionary<string, SourceType> _types = types.ToDictionary(t => t.Name, StringComparer.Ordinal);

    public IEnumerable<string> Names => _types.Keys.Order(StringComparer.Ordinal);

    public bool Contains(string? name) => name is not null && _types.ContainsKey(name);

    public SourceType? Find(string? name) => name is not null && _types.TryGetValue(name, out var type) ? type : null;
}
