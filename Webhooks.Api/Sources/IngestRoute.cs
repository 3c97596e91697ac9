using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Api.EventTypes;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Sources;

/// <summary>
/// <c>POST /ingest/{token}</c>: a sender's webhook comes in. No API key: the token finds the source, the sender's signature
/// proves the request. Verified, checked against the application's event types, deduplicated by the sender's delivery
/// id, published as a message of the source's application (its payload the body's JSON text, byte for byte), and
/// answered 200 only once that message is committed. Every answer but an unknown token is in the source's log.
/// </summary>
public static class IngestRoute
{
    private static readonly Meter Meter = new("Webhooks.Api.Ingest");
    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("webhooks.ingest.requests", description: "Requests to ingest URLs, by source type and outcome");

    /// <summary>How long a verified event's publish may take once started, whether or not its sender is still waiting.</summary>
    private static readonly TimeSpan PublishBudget = TimeSpan.FromSeconds(10);

    public static WebApplication MapIngest(this WebApplication app)
    {
        app.MapPost(SourceService.IngestPath + "{token}", IngestAsync).AllowAnonymous().WithTags("Sources")
            .WithSummary("A sender's webhook (GitHub, Stripe, Standard Webhooks): verified, deduplicated and published to the source's application.")
            .Produces<IngestOut>().ProducesProblem(400).ProducesProblem(401).ProducesProblem(404).ProducesProblem(413).ProducesProblem(415)
            .ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        return app;
    }

    private static async Task<IResult> IngestAsync(string token, HttpContext http, SourceService sources, SourceTypeRegistry types, IngestLimits limits,
        PublishWriter writer, PayloadSchemas schemas, WebhooksDbContext db, NpgsqlDataSource dataSource, IOptions<PublishOptions> options, TimeProvider time,
        IHostApplicationLifetime lifetime, ILoggerFactory loggers)
    {
        var ct = http.RequestAborted;
        // A token of the wrong shape names no source: answered without asking the database. Uncached look-ups are
        // limited per process, so made-up tokens cannot crowd out publishes.
        SourceService.Lookup? source = null;
        if (SourceService.IsTokenShaped(token))
        {
            source = sources.Cached(token);
            if (source is null)
            {
                if (!limits.MayLookUp())
                {
                    Requests.Add(1, new KeyValuePair<string, object?>("outcome", "lookups_throttled"));
                    http.Response.Headers.RetryAfter = "1";
                    return TypedResults.Problem(type: Problems.Unavailable, title: "Busy", statusCode: 503,
                        detail: "Too many requests to ingest URLs right now; retry after a second.");
                }
                source = await sources.FindAsync(token, ct);
            }
        }
        if (source is null)
        {
            Requests.Add(1, new KeyValuePair<string, object?>("outcome", "unknown_token"));
            return TypedResults.Problem(type: Problems.NotFoundType, title: "Not found", statusCode: 404, detail: "No source has this ingest URL.");
        }
        var log = new SourceLog(dataSource, source, time, loggers.CreateLogger("Webhooks.Api.Sources.Ingest"));

        if (!limits.MayRead(source.Id, source.RateLimitPerSecond))
        {
            return await ThrottledAsync(http, limits, log, source, "Over the source's flood limit", source.RateLimitPerSecond * IngestLimits.FloodFactor);
        }
        var max = options.Value.MaxBodyBytes;
        var body = await ReadBodyAsync(http.Request, max, ct);
        if (body is null)
        {
            return await RefuseAsync(http, limits, log, source, IngestResult.Refuse(413, $"The body is over {max} bytes (Webhooks:MaxBodyBytes)."),
                http.Request.ContentLength ?? max + 1L, null);
        }

        var result = types.Find(source.Type)!.Read(new IngestRequest(http.Request.Headers, http.Request.ContentType, body, time.GetUtcNow()), source.Secrets);
        // The payload as the source type parsed it (when accepted): checked against the event type, not parsed again.
        using var parsed = result.Document;
        if (result.Accepted && WebhookEnvelope.ByteCount(result.EventType!, result.Payload!) > max)
        {
            result = IngestResult.Refuse(413, $"The delivered body would be over {max} bytes (Webhooks:MaxBodyBytes).", result.DeliveryId);
        }
        if (result.Accepted)
        {
            // The application's contract holds for every message in it: an archived type, or a payload its schema refuses, is 422.
            var errors = await schemas.CheckAsync(db, source.ApplicationId, [(result.EventType!, parsed!.RootElement)], _ => "", ct);
            if (errors.Count > 0)
            {
                result = IngestResult.Refuse(422, string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")), result.DeliveryId);
            }
        }
        if (!result.Accepted)
        {
            return await RefuseAsync(http, limits, log, source, result, body.Length, Preview(body));
        }
        // Charged only now: requests that fail verification never use up what the sender's own events may use.
        if (!limits.MayPublish(source.Id, source.RateLimitPerSecond))
        {
            return await ThrottledAsync(http, limits, log, source, "Over the source's rate limit", source.RateLimitPerSecond);
        }

        var message = new Message(source.ApplicationId, result.EventType!, result.Payload!, [], null, Activity.Current?.Id, time.GetUtcNow(),
            sourceId: source.Id, sourceDeliveryId: result.DeliveryId);
        var duplicate = false;
        // Verified: finished even if the sender hangs up meanwhile (its retry then finds a duplicate), within a budget of its own.
        using (var publish = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping))
        {
            publish.CancelAfter(PublishBudget);
            try
            {
                // Alone, not grouped: the unique (source, delivery id) may refuse it, which must not fail other publishes.
                await writer.WriteNowAsync([message], publish.Token);
            }
            catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: Message.SourceDeliveryIndex })
            {
                duplicate = true;
            }
        }
        var messageId = duplicate ? await log.PublishedBeforeAsync(db, result.DeliveryId!) : message.Id;
        await log.AcceptedAsync(duplicate, result.DeliveryId!, result.EventType!, messageId, body.Length);
        Requests.Add(1, Tags(source, duplicate ? SourceEventOutcomes.Duplicate : SourceEventOutcomes.Published));
        return TypedResults.Ok(new IngestOut(messageId, result.EventType!, duplicate));
    }

    private static async Task<IResult> RefuseAsync(HttpContext http, IngestLimits limits, SourceLog log, SourceService.Lookup source, IngestResult result,
        long bodyBytes, string? preview)
    {
        switch (limits.ToLog(source.Id))
        {
            case 1:
                await log.RefusedAsync(result.Status, result.Reason!, result.DeliveryId, bodyBytes, preview);
                break;
            case > 1 and var folded:
                await log.RefusedAsync(result.Status, $"{result.Reason} ({folded} refusals since the last entry: too many to log each.)", result.DeliveryId, bodyBytes, preview);
                break;
        }
        Requests.Add(1, Tags(source, "refused"));
        return TypedResults.Problem(type: result.Status == 401 ? Problems.Unauthorized : result.Status == 422 ? Problems.PayloadRejected : Problems.Validation,
            title: result.Status switch
            {
                401 => "Unauthorized",
                413 => "Payload too large",
                415 => "Unsupported media type",
                422 => "The payload does not match its event type.",
                _ => "The request is invalid.",
            },
            statusCode: result.Status, detail: result.Reason);
    }

    private static async Task<IResult> ThrottledAsync(HttpContext http, IngestLimits limits, SourceLog log, SourceService.Lookup source, string what, int rate)
    {
        if (limits.ToLog(source.Id) is > 0 and var count)
        {
            await log.RefusedAsync(429, $"{what} of {rate}/s: {count} request(s) refused since the last entry.", null, http.Request.ContentLength ?? 0, null);
        }
        Requests.Add(1, Tags(source, "throttled"));
        http.Response.Headers.RetryAfter = "1";
        return TypedResults.Problem(type: Problems.TooManyRequests, title: "Too many requests", statusCode: 429,
            detail: $"{what} of {rate} requests a second; retry after a second.");
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
        // Grown as bytes arrive, not sized by what the sender claims it will send.
        var buffer = new MemoryStream((int)Math.Min(request.ContentLength ?? 0, 64 * 1024));
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
    private static string? Preview(byte[] body) =>
        body.Length == 0 ? null : SourceLog.Printable(Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, SourceEvent.PreviewLength * 4)), SourceEvent.PreviewLength);
}
