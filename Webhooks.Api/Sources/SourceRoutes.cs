using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Sources;

/// <summary>
/// Sources: senders (GitHub, Stripe, Standard Webhooks) whose webhooks come in at an ingest URL and go out to the
/// application's endpoints as messages. Managed with the application's key; the ingest URL itself needs none.
/// </summary>
public static class SourceRoutes
{
    public static RouteGroupBuilder MapSourceRoutes(this RouteGroupBuilder tenant)
    {
        var sources = tenant.MapGroup("/sources").WithTags("Sources");
        sources.MapPost("/", CreateAsync).Validate<SourceIn>();
        sources.MapGet("/", ListAsync).Validate<PageQuery>();
        sources.MapGet("/{sourceId}", GetAsync);
        sources.MapPut("/{sourceId}", UpdateAsync).Validate<SourceUpdateIn>();
        sources.MapDelete("/{sourceId}", DeleteAsync);
        sources.MapGet("/{sourceId}/secret", GetSecretAsync);
        sources.MapPost("/{sourceId}/secret/rotate", RotateSecretAsync).Validate<RotateSourceSecretIn>();
        sources.MapPost("/{sourceId}/ingest-url/rotate", RotateIngestUrlAsync);
        sources.MapGet("/{sourceId}/events", ListEventsAsync).Validate<SourceEventQuery>();
        return tenant;
    }

    internal static Task<Source?> FindSourceAsync(this WebhooksDbContext db, string applicationId, string sourceId, CancellationToken ct) =>
        // A malformed id (a NUL, say, which Postgres refuses) names no source.
        Core.Ids.IsValid(sourceId, Core.Ids.Source)
            ? db.Sources.FirstOrDefaultAsync(s => s.Id == sourceId && s.ApplicationId == applicationId, ct)
            : Task.FromResult<Source?>(null);

    private static async Task<Created<SourceCreated>> CreateAsync(Tenant tenant, SourceIn input, SourceService service, HttpContext http, CancellationToken ct)
    {
        var (source, secret) = await service.CreateAsync(tenant.Application.Id, input, ct);
        var output = service.ToOut(source, http);
        return TypedResults.Created($"/api/v1/apps/{tenant.Application.Id}/sources/{source.Id}",
            new SourceCreated(source.Id, source.Name, source.Type, output.IngestUrl, secret, output));
    }

    private static async Task<Ok<ListResponse<SourceOut>>> ListAsync(Tenant tenant, [AsParameters] PageQuery page, WebhooksDbContext db, SourceService service,
        HttpContext http, CancellationToken ct)
    {
        var take = Paging.Clamp(page.Limit);
        var query = db.Sources.AsNoTracking().Where(s => s.ApplicationId == tenant.Application.Id);
        if (page.Iterator is not null)
        {
            query = query.Where(s => string.Compare(s.Id, page.Iterator) > 0);
        }
        var rows = await query.OrderBy(s => s.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, s => s.Id, s => service.ToOut(s, http)));
    }

    private static async Task<Results<Ok<SourceOut>, ProblemHttpResult>> GetAsync(Tenant tenant, string sourceId, WebhooksDbContext db, SourceService service,
        HttpContext http, CancellationToken ct) =>
        await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is { } source
            ? TypedResults.Ok(service.ToOut(source, http))
            : Problems.NotFound($"Source '{sourceId}'");

    private static async Task<Results<Ok<SourceOut>, ProblemHttpResult>> UpdateAsync(Tenant tenant, string sourceId, SourceUpdateIn input, WebhooksDbContext db,
        SourceService service, HttpContext http, CancellationToken ct)
    {
        if (await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is not { } source)
        {
            return Problems.NotFound($"Source '{sourceId}'");
        }
        await service.UpdateAsync(source, input, ct);
        return TypedResults.Ok(service.ToOut(source, http));
    }

    /// <summary>Deletes the source and its log: its ingest URL answers 404 from then on. What it published stays.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(Tenant tenant, string sourceId, WebhooksDbContext db, SourceService service,
        CancellationToken ct)
    {
        if (await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is not { } source)
        {
            return Problems.NotFound($"Source '{sourceId}'");
        }
        await service.DeleteAsync(source, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<SourceSecretOut>, ProblemHttpResult>> GetSecretAsync(Tenant tenant, string sourceId, WebhooksDbContext db,
        SourceService service, CancellationToken ct) =>
        await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is { } source
            ? TypedResults.Ok(service.SecretOf(source))
            : Problems.NotFound($"Source '{sourceId}'");

    private static async Task<Results<Ok<SourceSecretOut>, ValidationProblem, ProblemHttpResult>> RotateSecretAsync(Tenant tenant, string sourceId,
        RotateSourceSecretIn input, WebhooksDbContext db, SourceService service, CancellationToken ct)
    {
        if (await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is not { } source)
        {
            return Problems.NotFound($"Source '{sourceId}'");
        }
        if (service.CheckRotation(source, input.Secret) is { } error)
        {
            return Problems.Invalid("secret", error);
        }
        return TypedResults.Ok(await service.RotateAsync(source, input.Secret, ct));
    }

    /// <summary>A new ingest URL: the old one answers 404 from now on (no overlap: it is replaced because it leaked).</summary>
    private static async Task<Results<Ok<SourceOut>, ProblemHttpResult>> RotateIngestUrlAsync(Tenant tenant, string sourceId, WebhooksDbContext db,
        SourceService service, HttpContext http, CancellationToken ct)
    {
        if (await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is not { } source)
        {
            return Problems.NotFound($"Source '{sourceId}'");
        }
        await service.RotateTokenAsync(source, ct);
        return TypedResults.Ok(service.ToOut(source, http));
    }

    private static async Task<Results<Ok<ListResponse<SourceEventOut>>, ProblemHttpResult>> ListEventsAsync(Tenant tenant, string sourceId,
        [AsParameters] SourceEventQuery page, WebhooksDbContext db, CancellationToken ct)
    {
        if (await db.FindSourceAsync(tenant.Application.Id, sourceId, ct) is null)
        {
            return Problems.NotFound($"Source '{sourceId}'");
        }
        return TypedResults.Ok(await db.SourceLogPageAsync(sourceId, page, ct));
    }

    /// <summary>A page of a source's log, newest first (also the console's).</summary>
    internal static async Task<ListResponse<SourceEventOut>> SourceLogPageAsync(this WebhooksDbContext db, string sourceId, SourceEventQuery page, CancellationToken ct)
    {
        var take = Paging.Clamp(page.Limit);
        var query = db.SourceEvents.AsNoTracking().Where(e => e.SourceId == sourceId);
        if (page.Iterator is not null && long.TryParse(page.Iterator, System.Globalization.CultureInfo.InvariantCulture, out var before))
        {
            query = query.Where(e => e.Id < before);
        }
        if (page.Outcome is not null)
        {
            query = query.Where(e => e.Outcome == page.Outcome);
        }
        var rows = await query.OrderByDescending(e => e.Id).Take(take + 1).ToListAsync(ct);
        return Paging.Page(rows, take, e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            e => new SourceEventOut(e.Id, e.ReceivedAt, e.Status, e.Outcome, e.Reason, e.DeliveryId, e.EventType, e.MessageId, e.BodyBytes, e.Preview));
    }
}
