using System.Text.Json;
using FluentValidation;
using Microsoft.Extensions.Options;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Messages;

public sealed class PublishOptions
{
    /// <summary>
    /// The largest delivered body, in UTF-8 bytes: the envelope with the payload inside. The default is the receiver
    /// SDK's default limit, so whatever is accepted can be received.
    /// </summary>
    public int MaxBodyBytes { get; set; } = WebhookEnvelope.DefaultMaxBytes;
    public int IdempotencyWindowHours { get; set; } = 24;

    /// <summary>
    /// How many statements writing publishes may run at once in this API process (<see cref="PublishWriter"/>): single
    /// publishes waiting meanwhile are written together by the next free one.
    /// </summary>
    public int PublishWriters { get; set; } = 4;
}

public sealed class MessageInValidator : AbstractValidator<MessageIn>
{
    public MessageInValidator(IOptions<PublishOptions> options)
    {
        var max = options.Value.MaxBodyBytes;
        RuleFor(m => m.EventType).NotEmpty().SetValidator(new EventTypeNameValidator());
        RuleFor(m => m.Payload).IsPayload(m => m.EventType, max);
        RuleFor(m => m.Channels!).Must(c => c.Count <= 10).WithMessage("At most 10 channels.").When(m => m.Channels is not null);
        RuleForEach(m => m.Channels).IsChannel();
        RuleFor(m => m.IdempotencyKey!).Length(1, 256).Must(Text.IsPrintable).When(m => m.IdempotencyKey is not null);
        RuleFor(m => m.Priority).InclusiveBetween(0, 9).WithMessage("'priority' must be 0 to 9.");
        RuleFor(m => m.OrderingKey!).Length(1, 128).Must(Text.IsPrintable).WithMessage("'orderingKey' must be 1 to 128 printable characters.")
            .When(m => m.OrderingKey is not null);
    }
}

public static class PayloadRules
{
    /// <summary>
    /// A message payload: a JSON object whose delivered body (the envelope around it, in UTF-8 bytes) is at most
    /// <paramref name="maxBodyBytes"/>.
    /// </summary>
    public static IRuleBuilderOptions<T, JsonElement> IsPayload<T>(this IRuleBuilder<T, JsonElement> rule, Func<T, string?> eventType, int maxBodyBytes) =>
        rule.Must(p => p.ValueKind == JsonValueKind.Object).WithMessage("'payload' must be a JSON object.")
            .Must((m, p) => p.ValueKind != JsonValueKind.Object || WebhookEnvelope.ByteCount(eventType(m) ?? "", p.GetRawText()) <= maxBodyBytes)
            .WithMessage($"The delivered body (the payload inside its envelope, in UTF-8 bytes) must be at most {maxBodyBytes} bytes.")
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
