using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.EventTypes;

public sealed class EventTypeInValidator : AbstractValidator<EventTypeIn>
{
    public EventTypeInValidator()
    {
        RuleFor(t => t.Name).NotEmpty().SetValidator(new EventTypeNameValidator());
        RuleFor(t => t.Description!).MaximumLength(4096).Must(Text.IsPrintable).When(t => t.Description is not null);
        RuleFor(t => t.Schema).SchemaIsUsable();
    }
}

public sealed class EventTypeUpdateInValidator : AbstractValidator<EventTypeUpdateIn>
{
    public EventTypeUpdateInValidator()
    {
        RuleFor(t => t.Description!).MaximumLength(4096).Must(Text.IsPrintable).When(t => t.Description is not null);
        RuleFor(t => t.Schema).SchemaIsUsable();
    }
}

internal static class SchemaRules
{
    /// <summary>The schema's JSON text, or null when none was given.</summary>
    public static string? TextOf(JsonElement? schema) =>
        schema is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } s ? s.GetRawText() : null;

    public static void SchemaIsUsable<T>(this IRuleBuilder<T, JsonElement?> rule) =>
        rule.CustomAsync(async (schema, context, _) =>
        {
            if (TextOf(schema) is not null && await PayloadSchemas.ParseAsync(schema!.Value) is { Error: { } error } parsed)
            {
                context.AddFailure(new FluentValidation.Results.ValidationFailure("schema", error)
                {
                    ErrorCode = parsed.Unsafe ? Problems.UnprocessableCode : null,
                });
            }
        });
}
