using System.Text.Json;
using FluentValidation;
using Microsoft.Extensions.Options;
using Webhooks.Api.Endpoints;
using Webhooks.Client;

namespace Webhooks.Api.Messages;

public sealed class PublishOptions
{
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;
    public int IdempotencyWindowHours { get; set; } = 24;
}

public sealed class MessageInValidator : AbstractValidator<MessageIn>
{
    public MessageInValidator(IOptions<PublishOptions> options)
    {
        var max = options.Value.MaxPayloadBytes;
        RuleFor(m => m.EventType).NotEmpty().SetValidator(new EventTypeNameValidator());
        RuleFor(m => m.Payload).IsPayload(max);
        RuleFor(m => m.Channels!).Must(c => c.Count <= 10).WithMessage("At most 10 channels.").When(m => m.Channels is not null);
        RuleForEach(m => m.Channels).NotEmpty().MaximumLength(128).Matches("^[a-zA-Z0-9_.:-]+$");
        RuleFor(m => m.IdempotencyKey!).Length(1, 256).Must(Applications.Text.IsPrintable).When(m => m.IdempotencyKey is not null);
    }
}

public static class PayloadRules
{
    /// <summary>A message payload: a JSON object of at most <paramref name="maxBytes"/>.</summary>
    public static IRuleBuilderOptions<T, JsonElement> IsPayload<T>(this IRuleBuilder<T, JsonElement> rule, int maxBytes) =>
        rule.Must(p => p.ValueKind == JsonValueKind.Object).WithMessage("'payload' must be a JSON object.")
            .Must(p => p.ValueKind != JsonValueKind.Object || p.GetRawText().Length <= maxBytes).WithMessage($"'payload' must be at most {maxBytes} bytes.")
            .Must(Infrastructure.StorableJson.IsStorable).WithMessage($"'payload' {Infrastructure.StorableJson.Rule}.");
}

public sealed class MessageBatchInValidator : AbstractValidator<MessageBatchIn>
{
    public const int MaxMessages = 500;

    public MessageBatchInValidator(IValidator<MessageIn> message)
    {
        RuleFor(b => b.Messages).NotNull().Must(m => m is { Count: > 0 and <= MaxMessages })
            .WithMessage($"A batch has 1 to {MaxMessages} messages.");
        RuleForEach(b => b.Messages).NotNull().SetValidator(message);
        RuleFor(b => b.Messages).Must(m => m.Where(x => x?.IdempotencyKey is not null).GroupBy(x => x.IdempotencyKey).All(g => g.Count() == 1))
            .WithMessage("Idempotency keys must be unique within a batch.").When(b => b.Messages is not null);
    }
}
