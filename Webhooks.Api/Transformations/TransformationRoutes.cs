using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Endpoints;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Transformations;

public static class TransformationRoutes
{
    /// <param name="tenant">The <c>/apps/{appId}</c> group: one application, resolved by its filter.</param>
    public static RouteGroupBuilder MapTransformationRoutes(this RouteGroupBuilder tenant)
    {
        tenant.MapPost("/transformations/preview", PreviewAsync).WithTags("Endpoints").Validate<TransformationPreviewIn>().ProducesValidationProblem(422);
        return tenant;
    }

    private static async Task<Results<Ok<TransformationPreviewOut>, ValidationProblem, ProblemHttpResult>> PreviewAsync(
        Tenant tenant, TransformationPreviewIn input, TransformationPreview preview, CancellationToken ct)
    {
        var (result, notFound, error) = await preview.RunAsync(tenant.Application.Id, input, ct);
        if (notFound is not null)
        {
            return Problems.NotFound(notFound);
        }
        return error is not null
            ? Problems.Unprocessable(new Dictionary<string, string[]> { ["transformation"] = [error] })
            : TypedResults.Ok(result!);
    }
}

/// <summary>
/// Runs a transformation and format against one of the application's messages (or an event given in the request) the
/// way the worker would, in the same sandbox, and says what would be sent. For the API and the dashboard alike.
/// </summary>
public sealed class TransformationPreview(WebhooksDbContext db, TimeProvider time, IOptions<PublishOptions> publish)
{
    /// <summary>The URL the script sees when the request names none.</summary>
    public const string DefaultUrl = "https://example.com/webhook";

    /// <summary>The result; or what was not found (a message not of <paramref name="applicationId"/>); or the script's error.</summary>
    public async Task<(TransformationPreviewOut? Result, string? NotFound, string? Error)> RunAsync(
        string applicationId, TransformationPreviewIn input, CancellationToken ct)
    {
        string eventType, payload;
        DateTimeOffset timestamp;
        var raw = false;
        if (input.MessageId is { } messageId)
        {
            var message = await db.Messages.AsNoTracking()
                .Where(m => m.Id == messageId && m.ApplicationId == applicationId)
                .Select(m => new { m.EventType, m.Payload, m.CreatedAt, m.Raw })
                .FirstOrDefaultAsync(ct);
            if (message is null)
            {
                return (null, $"Message '{messageId}'", null);
            }
            (eventType, payload, timestamp, raw) = (message.EventType, message.Payload, message.CreatedAt, message.Raw);
        }
        else
        {
            (eventType, payload, timestamp) = (input.EventType!, input.Payload!.Value.GetRawText(), time.GetUtcNow());
        }
        var script = string.IsNullOrWhiteSpace(input.Transformation) ? null : input.Transformation;
        TransformationOutput output;
        try
        {
            output = ScriptGate.Run(applicationId, () => Transformation.Shape(input.Format, script, eventType, timestamp, payload,
                input.Url ?? DefaultUrl, input.Headers ?? new Dictionary<string, string>(), publish.Value.MaxBodyBytes, raw));
        }
        catch (TransformationException ex)
        {
            return (null, null, ex.Message);
        }
        if (output.Cancel)
        {
            return (new TransformationPreviewOut(null, null, output.Method, output.Url, output.Headers, Cancel: true), null, null);
        }
        using var body = JsonDocument.Parse(output.Body);
        return (new TransformationPreviewOut(body.RootElement.Clone(), ChatFormats.ToText(output.Body), output.Method, output.Url, output.Headers, Cancel: false), null, null);
    }
}

public sealed class TransformationPreviewInValidator : AbstractValidator<TransformationPreviewIn>
{
    public TransformationPreviewInValidator(IOptions<PublishOptions> options)
    {
        RuleFor(p => p.Format).IsFormat();
        RuleFor(p => p.Transformation).Must(t => t is null || System.Text.Encoding.UTF8.GetByteCount(t) <= Transformation.MaxScriptBytes)
            .WithMessage($"The transformation is larger than {Transformation.MaxScriptBytes / 1024} KiB.");
        RuleFor(p => p.MessageId).Must(id => id!.Length <= 64).WithMessage("'messageId' is not a message id.").When(p => p.MessageId is not null);
        RuleFor(p => p.EventType).NotEmpty().WithMessage("Give 'messageId', or 'eventType' and 'payload'.").When(p => p.MessageId is null);
        RuleFor(p => p.EventType!).SetValidator(new EventTypeNameValidator()).When(p => p.MessageId is null && p.EventType is not null);
        RuleFor(p => p.Payload).NotNull().WithMessage("Give 'messageId', or 'eventType' and 'payload'.").When(p => p.MessageId is null);
        RuleFor(p => p.Payload!.Value).IsPayload(p => p.EventType, options.Value.MaxBodyBytes).OverridePropertyName("payload")
            .When(p => p.MessageId is null && p.Payload is { ValueKind: not JsonValueKind.Null });
        RuleFor(p => p.Url).Must(url => UrlRules.IsWebUrl(url, httpsOnly: false)).WithMessage("'url' must be an absolute http or https URL.")
            .MaximumLength(UrlRules.MaxUrlLength).When(p => p.Url is not null);
        RuleFor(p => p.Headers!).Must(h => h.Count <= CustomHeaders.MaxCount).WithMessage($"At most {CustomHeaders.MaxCount} headers.")
            .When(p => p.Headers is not null);
        RuleForEach(p => p.Headers).Must(h => CustomHeaders.IsAllowed(h.Key, h.Value))
            .WithMessage((_, h) => $"Header '{h.Key}': names must be tokens, not reserved (webhook-*, content-*, host, …), and values visible ASCII (no accents, no control characters).");
    }
}
