using FluentValidation;
using Webhooks.Api.Applications;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
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
        RuleFor(e => e.Ordering).Must(o => o is null or OrderingModes.None or OrderingModes.Fifo)
            .WithMessage($"'ordering' must be '{OrderingModes.None}' or '{OrderingModes.Fifo}'.");
        RuleFor(e => e.Headers!).Must(h => h.Count <= 20).WithMessage("At most 20 headers.").When(e => e.Headers is not null);
        RuleForEach(e => e.Headers).Must(h => HeaderRules.IsAllowed(h.Key, h.Value))
            .WithMessage("Header names must be tokens, not reserved (webhook-*, content-*, host, …), and values printable.");
        RuleFor(e => e.Metadata!).Must(m => m.Count <= 50 && m.All(kv => kv.Key.Length <= 256 && kv.Value.Length <= 4096))
            .WithMessage("At most 50 metadata entries, keys up to 256 and values up to 4096 characters.").When(e => e.Metadata is not null);
        RuleFor(e => e.Auth!).SetValidator(new EndpointAuthInValidator(configuration, time)).When(e => e.Auth is not null);
    }
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

public static class HeaderRules
{
    private static readonly string[] Reserved = ["host", "content-length", "content-type", "transfer-encoding", "connection", "traceparent", "tracestate", "user-agent"];

    public static bool IsAllowed(string name, string value) =>
        name.Length is > 0 and <= 256 &&
        value.Length <= 4096 &&
        name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c))) &&
        !name.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase) &&
        !name.StartsWith("svix-", StringComparison.OrdinalIgnoreCase) &&
        !Reserved.Contains(name, StringComparer.OrdinalIgnoreCase) &&
        !value.Any(c => char.IsControl(c) && c != '\t');
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
