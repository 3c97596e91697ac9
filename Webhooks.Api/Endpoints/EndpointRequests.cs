using System.Text.Json;
using FluentValidation;
using Webhooks.Api.Applications;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Api.Endpoints;

public sealed class EndpointInValidator : EndpointSettingsValidator<EndpointIn>
{
    public EndpointInValidator(IConfiguration configuration, TimeProvider time) : base(configuration, time)
    {
        RuleFor(e => e.Secret!).Must(s => WebhookSecret.TryParse(s, out _, out _))
            .WithMessage($"'secret' must be '{WebhookSecret.Prefix}' followed by the base64 of {WebhookSecret.MinKeyBytes} to {WebhookSecret.MaxKeyBytes} bytes.")
            .When(e => e.Secret is not null);
    }
}

public sealed class EndpointUpdateInValidator(IConfiguration configuration, TimeProvider time) : EndpointSettingsValidator<EndpointUpdateIn>(configuration, time);

/// <summary>The rules an endpoint's settings follow, on create and on update.</summary>
public abstract class EndpointSettingsValidator<T> : AbstractValidator<T> where T : IEndpointSettings
{
    protected EndpointSettingsValidator(IConfiguration configuration, TimeProvider time)
    {
        var httpsOnly = configuration.GetValue<bool>("Webhooks:RequireHttps");
        RuleFor(e => e.Url).NotEmpty().MaximumLength(UrlRules.MaxUrlLength).Must(url => UrlRules.IsWebUrl(url, httpsOnly))
            .WithMessage(httpsOnly ? "'url' must be an absolute https URL." : "'url' must be an absolute http or https URL.");
        RuleFor(e => e.Description!).MaximumLength(4096).Must(Text.IsPrintable).When(e => e.Description is not null);
        RuleFor(e => e.EventTypes!).Must(t => t.Count <= 256).WithMessage("At most 256 event types.").When(e => e.EventTypes is not null);
        RuleForEach(e => e.EventTypes).SetValidator(new EventTypeNameValidator());
        RuleFor(e => e.Channels!).Must(c => c.Count <= 10).WithMessage("At most 10 channels.").When(e => e.Channels is not null);
        RuleForEach(e => e.Channels).IsChannel();
        RuleFor(e => e.RateLimitPerSecond).InclusiveBetween(1, 10_000).When(e => e.RateLimitPerSecond is not null);
        RuleFor(e => e.TimeoutSeconds).InclusiveBetween(1, 60).When(e => e.TimeoutSeconds is not null);
        RuleFor(e => e.RetrySchedule!).SetValidator(new RetryScheduleValidator()).When(e => e.RetrySchedule is not null);
        RuleFor(e => e.CircuitBreakerThreshold).InclusiveBetween(1, 1000).When(e => e.CircuitBreakerThreshold is not null);
        RuleFor(e => e.MaxInFlight).InclusiveBetween(1, 1000).When(e => e.MaxInFlight is not null);
        RuleFor(e => e.Ordering).Must(o => o is null or OrderingModes.None or OrderingModes.Fifo)
            .WithMessage($"'ordering' must be '{OrderingModes.None}' or '{OrderingModes.Fifo}'.");
        RuleFor(e => e.Headers!).Must(h => h.Count <= CustomHeaders.MaxCount).WithMessage($"At most {CustomHeaders.MaxCount} headers.").When(e => e.Headers is not null);
        RuleFor(e => e.Headers!).Must(h => h.Keys.Distinct(StringComparer.OrdinalIgnoreCase).Count() == h.Count)
            .WithMessage("Header names are case-insensitive: give each name once.").When(e => e.Headers is not null);
        RuleForEach(e => e.Headers).Must(h => CustomHeaders.IsAllowed(h.Key, h.Value))
            .WithMessage((_, h) => $"Header '{h.Key}': names must be tokens, not reserved (webhook-*, content-*, host, …), and values visible ASCII (no accents, no control characters).");
        RuleFor(e => e.Metadata!).Must(MetadataRules.IsValid).WithMessage(MetadataRules.Rule).When(e => e.Metadata is not null);
        RuleFor(e => e.Auth!).SetValidator(new EndpointAuthInValidator(configuration, time)).When(e => e.Auth is not null);
        RuleFor(e => e.Format).IsFormat();
        RuleFor(e => e.Transformation).IsTransformation();
        RuleFor(e => e.Filter).Custom((filter, context) =>
        {
            foreach (var error in FilterRules.Parse(filter).Errors)
            {
                context.AddFailure(new FluentValidation.Results.ValidationFailure(error.Field, error.Message) { ErrorCode = Problems.UnprocessableCode });
            }
        });
    }
}

/// <summary>An endpoint's <c>filter</c> as given: JSON null or absent for none, else a <see cref="PayloadFilter"/>.</summary>
public static class FilterRules
{
    public static (PayloadFilter? Filter, IReadOnlyList<PayloadFilterError> Errors) Parse(JsonElement? filter)
    {
        if (filter is not { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } given)
        {
            return (null, []);
        }
        if (!StorableJson.IsStorable(given))
        {
            return (null, [new PayloadFilterError("filter", $"'filter' {StorableJson.Rule}.")]);
        }
        return PayloadFilter.Parse(given);
    }
}

/// <summary>The rules of an endpoint's <c>format</c> and <c>transformation</c>, shared by its settings and the preview.</summary>
public static class TransformationRules
{
    /// <summary><c>standard</c>, <c>slack</c> or <c>discord</c> (or none).</summary>
    public static IRuleBuilderOptions<T, string?> IsFormat<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(ChatFormats.IsKnown).WithMessage($"'format' must be one of: {string.Join(", ", ChatFormats.All)}.");

    /// <summary>
    /// A script that parses, runs its top level within the sandbox's limits and defines <c>handler</c>: else 422 naming
    /// <c>transformation</c>, with the line and column of a syntax error. Empty means none.
    /// </summary>
    public static IRuleBuilderOptionsConditions<T, string?> IsTransformation<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Custom((script, context) =>
        {
            if (!string.IsNullOrWhiteSpace(script) && Transformations.ScriptGate.Run(null, () => Transformation.Check(script)) is { } error)
            {
                context.AddFailure(new FluentValidation.Results.ValidationFailure("transformation", error) { ErrorCode = Problems.UnprocessableCode });
            }
        });
}

public static class UrlRules
{
    public const int MaxUrlLength = 2048;

    public static bool IsWebUrl(string? url, bool httpsOnly) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) &&
        (uri.Scheme == Uri.UriSchemeHttps || (!httpsOnly && uri.Scheme == Uri.UriSchemeHttp)) &&
        !string.IsNullOrEmpty(uri.Host) &&
        string.IsNullOrEmpty(uri.UserInfo) &&
        Text.IsPrintable(url);
}

public sealed class RotateSecretInValidator : AbstractValidator<RotateSecretIn>
{
    public RotateSecretInValidator()
    {
        RuleFor(r => r.Key!).Must(s => WebhookSecret.TryParse(s, out _, out _))
            .WithMessage($"'key' must be '{WebhookSecret.Prefix}' followed by the base64 of {WebhookSecret.MinKeyBytes} to {WebhookSecret.MaxKeyBytes} bytes.")
            .When(r => r.Key is not null);
    }
}

public sealed class DisableEndpointInValidator : AbstractValidator<DisableEndpointIn>
{
    public DisableEndpointInValidator()
    {
        RuleFor(r => r.Reason!).MaximumLength(1024).Must(Text.IsPrintable).When(r => r.Reason is not null);
    }
}

/// <summary>A page of an endpoint's history: <c>limit</c> (1–250) and the <c>iterator</c> of the previous page.</summary>
public sealed record HistoryQuery(int? Limit = null, string? Iterator = null);

public sealed class HistoryQueryValidator : AbstractValidator<HistoryQuery>
{
    public HistoryQueryValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, Paging.MaxLimit).When(q => q.Limit is not null);
        RuleFor(q => q.Iterator).Must(i => long.TryParse(i, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id > 0)
            .When(q => q.Iterator is not null)
            .WithMessage("'iterator' must be the iterator of a previous page.");
    }
}
