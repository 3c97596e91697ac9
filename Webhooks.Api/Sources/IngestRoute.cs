using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Sources;

/// <summary>
/// <c>POST /ingest/{token}</c>: a sender's webhook comes in. No API key: the token finds the source, the sender's signature
/// proves the request. Verified, deduplicated by the sender's delivery id, published as a message of the source's
/// application (its payload the body's JSON text, byte for byte), answered 200 only once that message is committed.
/// Every answer but an unknown token is in the source's log.
/// </summary>
public static partial class IngestRoute
{
    private static readonly Meter Meter = new("Webhooks.Api.Ingest");
    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("webhooks.ingest.requests", description: "Requests to ingest URLs, by source type and outcome");

    public static WebApplication MapIngest(this WebApplication app)
    {
        app.MapPost(SourceService.IngestPath + "{token}", IngestAsync).AllowAnonymous().WithTags("Sources")
            .WithSummary("A sender's webhook (GitHub, Stripe, Standard Webhooks): verified, deduplicated and published to the source's application.")
            .Produces<IngestOut>().ProducesProblem(400).ProducesProblem(401).ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(429);
        return app;
    }

    private static async Task<IResult> IngestAsync(string token, HttpContext http, SourceService sources, SourceTypeRegistry types, IngestLimits limits,
        PublishWriter writer, WebhooksDbContext db, IOptions<PublishOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var ct = http.RequestAborted;
        // A token of the wrong shape names no source: answered without asking the database.
        var source = SourceService.IsTokenShaped(token) ? await sources.FindAsync(token, ct) : null;
        if (source is null)
        {
            Requests.Add(1, new KeyValuePair<string, object?>("outcome", "unknown_token"));
            return TypedResults.Problem(type: Problems.NotFoundType, title: "Not found", statusCode: 404, detail: "No source has this ingest URL.");
        }
        var log = new SourceLog(db, source, time, loggers.CreateLogger("Webhooks.Api.Sources.Ingest"));
        if (!limits.TryTake(source.Id, source.RateLimitPerSecond))
        {
            if (limits.CountThrottled(source.Id, time.GetUtcNow()) is > 0 and var count)
            {
                await log.RefusedAsync(429, $"Over the source's rate limit of {source.RateLimitPerSecond}/s: {count} request(s) refused since the last entry.",
                    null, http.Request.ContentLength ?? 0, null, ct);
            }
            Requests.Add(1, Tags(source, "throttled"));
            http.Response.Headers.RetryAfter = "1";
            return TypedResults.Problem(type: Problems.TooManyRequests, title: "Too many requests", statusCode: 429,
                detail: $"This source takes {source.RateLimitPerSecond} requests a second; retry after a second.");
        }

        var max = options.Value.MaxBodyBytes;
        var body = await ReadBodyAsync(http.Request, max, ct);
        if (body is null)
        {
            var size = http.Request.ContentLength ?? max + 1L;
            await log.RefusedAsync(413, $"The body is over {max} bytes (Webhooks:MaxBodyBytes).", null, size, null, ct);
            Requests.Add(1, Tags(source, "too_large"));
            return TypedResults.Problem(type: Problems.Validation, title: "Payload too large", statusCode: 413,
                detail: $"The body is over {max} bytes, the most a message may carry here.");
        }

        var result = types.Find(source.Type)!.Read(new IngestRequest(http.Request.Headers, http.Request.ContentType, body, time.GetUtcNow()), source.Secrets);
        if (!result.Accepted || WebhookEnvelope.ByteCount(result.EventType!, result.Payload!) > max)
        {
            result = result.Accepted ? new IngestResult(413, $"The delivered body would be over {max} bytes (Webhooks:MaxBodyBytes).", null, result.DeliveryId, null) : result;
            await log.RefusedAsync(result.Status, result.Reason!, result.DeliveryId, body.Length, Preview(body), ct);
            Requests.Add(1, Tags(source, "refused"));
            return TypedResults.Problem(type: result.Status == 401 ? Problems.Unauthorized : Problems.Validation,
                title: result.Status switch { 401 => "Unauthorized", 413 => "Payload too large", 415 => "Unsupported media type", _ => "The request is invalid." },
                statusCode: result.Status, detail: result.Reason);
        }

        var message = new Message(source.ApplicationId, result.EventType!, result.Payload!, [], null, Activity.Current?.Id, time.GetUtcNow(),
            sourceId: source.Id, sourceDeliveryId: result.DeliveryId);
        var duplicate = false;
        try
        {
            // Alone, not grouped: the unique (source, delivery id) may refuse it, which must not fail other publishes.
            await writer.WriteNowAsync([message], ct);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: Message.SourceDeliveryIndex })
        {
            duplicate = true;
        }
        var messageId = duplicate ? await log.PublishedBeforeAsync(result.DeliveryId!, ct) ?? "" : message.Id;
        await log.AcceptedAsync(duplicate, result.DeliveryId!, result.EventType!, messageId, body.Length, ct);
        Requests.Add(1, Tags(source, duplicate ? SourceEventOutcomes.Duplicate : SourceEventOutcomes.Published));
        return TypedResults.Ok(new IngestOut(messageId, result.EventType!, duplicate));
    }

    private static KeyValuePair<string, object?>[] Tags(SourceService.Lookup source, string outcome) =>
        [new("type", source.Type), new("outcome", outcome)];

    /// <summary>The body, or null when it is over <paramref name="max"/> bytes (read no further than that).</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken ct)
    {
        if (request.ContentLength > max)
        {
            return null;
        }
        var buffer = new MemoryStream(request.ContentLength is { } length ? (int)length : 16 * 1024);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The start of a refused body, as text a log can show: no control character, no broken character.</summary>
    private static string? Preview(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, SourceEvent.PreviewLength * 4));
        var builder = new StringBuilder(SourceEvent.PreviewLength + 1);
        foreach (var rune in text.EnumerateRunes())
        {
            if (builder.Length >= SourceEvent.PreviewLength)
            {
                builder.Append('…');
                break;
            }
            builder.Append(Rune.IsControl(rune) ? "\uFFFD" : rune.ToString());
        }
        return builder.ToString();
    }
}
