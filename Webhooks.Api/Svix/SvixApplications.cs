using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Applications;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Svix;

/// <summary>Svix's <c>/api/v1/app</c>: applications by id or uid, over the same <see cref="ApplicationService"/> as <c>/api/v1/apps</c>.</summary>
public static class SvixApplications
{
    public static void Map(RouteGroupBuilder svix, RouteGroupBuilder app)
    {
        svix.MapGet("/app", ListAsync);
        svix.MapPost("/app", CreateAsync);
        app.MapGet("", GetAsync);
        // PUT creates the application when the path names none (Svix's upsert).
        app.MapPut("", UpsertAsync).WithMetadata(TenantMayBeCreated.Instance);
        app.MapPatch("", PatchAsync);
        app.MapDelete("", DeleteAsync);
    }

    internal static SvixApplicationOut ToSvix(this Application a) => new(a.Id, a.Uid, a.Name, null, a.Metadata, a.CreatedAt, a.UpdatedAt);

    private static SvixApplicationIn ToSvixIn(this Application a) => new(a.Name, a.Uid, null, null, a.Metadata);

    private static async Task<Results<Ok<SvixList<SvixApplicationOut>>, ValidationProblem>> ListAsync(
        WebhooksDbContext db, HttpContext http, int? limit, string? iterator, string? order, CancellationToken ct)
    {
        if (SvixPaging.Descending(order, byDefault: false) is not { } descending)
        {
            return SvixChecks.Invalid("order", "'order' must be 'ascending' or 'descending'.");
        }
        if (limit is < 1 or > Paging.MaxLimit)
        {
            return SvixChecks.Invalid("limit", $"'limit' must be 1 to {Paging.MaxLimit}.");
        }
        var caller = ApiCaller.From(http.User);
        var query = db.Applications.AsNoTracking().Where(a => caller.IsAdmin || a.Id == caller.ApplicationId);
        return TypedResults.Ok(await SvixPaging.PageAsync(query, a => a.Id, descending, iterator, limit, ToSvix, ct));
    }

    /// <summary>Checks an application as Svix takes it; <c>throttleRate</c> is refused by name (set it on each endpoint).</summary>
    internal static async Task<Dictionary<string, string[]>?> CheckAsync(SvixApplicationIn input, IValidator<Client.ApplicationIn> validator, CancellationToken ct)
    {
        if (input.ThrottleRate is not null || input.RateLimit is not null)
        {
            return new() { [input.ThrottleRate is null ? "rateLimit" : "throttleRate"] = ["An application-wide throttle rate is not supported by this server: set 'throttleRate' on each endpoint."] };
        }
        if (RequestShape.Problems(input) is { Count: > 0 } malformed)
        {
            return malformed;
        }
        if (input.Metadata is not null && !MetadataRules.IsValid(input.Metadata))
        {
            return new() { ["metadata"] = [MetadataRules.Rule] };
        }
        return await SvixChecks.ValidateAsync(validator, new Client.ApplicationIn(input.Name, input.Uid), ct);
    }

    /// <summary>
    /// The route's application; or, when the path names none, the one <paramref name="given"/> describes (Svix's
    /// <c>application</c> in a message or a portal access), created under the path's uid by an admin key, or the one a
    /// concurrent request created first. Else the answer: 404 without <paramref name="given"/>, 422 when it is invalid or
    /// names another uid, 403 when the caller may not create it.
    /// </summary>
    internal static async Task<(Application? Application, IResult? Refused)> FindOrCreateAsync(
        Tenant tenant, SvixApplicationIn? given, ApplicationService applications, IValidator<Client.ApplicationIn> validator, WebhooksDbContext db,
        CancellationToken ct)
    {
        if (tenant.Found)
        {
            return (tenant.Application, null);
        }
        if (given is null)
        {
            return (null, SvixLookup.NotFound("Application"));
        }
        if (given.Uid != tenant.IdOrUid)
        {
            return (null, SvixChecks.Invalid("application.uid", "'application.uid' must be the application named in the path."));
        }
        if (await CheckAsync(given, validator, ct) is { } invalid)
        {
            return (null, Problems.Invalid(invalid.ToDictionary(e => "application." + e.Key, e => e.Value)));
        }
        var change = await applications.CreateAsync(tenant.Caller, new Client.ApplicationIn(given.Name, given.Uid), ct, given.Metadata);
        var application = change.Outcome switch
        {
            ApplicationService.Outcome.Done => change.Application,
            // Created meanwhile by a concurrent request: use it.
            ApplicationService.Outcome.UidTaken => await db.FindApplicationAsync(tenant.Caller, tenant.IdOrUid, ct),
            _ => null,
        };
        return application is null
            ? (null, TypedResults.Problem(statusCode: 403, detail: change.Refusal ?? "The application could not be created."))
            : (application, null);
    }

    private static async Task<IResult> CreateAsync(
        [FromBody] SvixApplicationIn input, [FromQuery(Name = "get_if_exists")] bool? getIfExists, ApplicationService service,
        IValidator<Client.ApplicationIn> validator, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        if (await CheckAsync(input, validator, ct) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var caller = ApiCaller.From(http.User);
        if (getIfExists == true && input.Uid is not null && await db.FindApplicationAsync(caller, input.Uid, ct) is { } existing)
        {
            return TypedResults.Ok(existing.ToSvix());
        }
        var change = await service.CreateAsync(caller, new Client.ApplicationIn(input.Name, input.Uid), ct, input.Metadata);
        if (getIfExists == true && change.Outcome == ApplicationService.Outcome.UidTaken &&
            await db.FindApplicationAsync(caller, input.Uid!, ct) is { } created)
        {
            // A concurrent getOrCreate created it first: it is the answer.
            return TypedResults.Ok(created.ToSvix());
        }
        return Outcome(change, created: true);
    }

    private static IResult Outcome(ApplicationService.Change change, bool created) => change.Outcome switch
    {
        ApplicationService.Outcome.Done when created => TypedResults.Created($"/api/v1/app/{change.Application!.Id}", change.Application.ToSvix()),
        ApplicationService.Outcome.Done => TypedResults.Ok(change.Application!.ToSvix()),
        ApplicationService.Outcome.Forbidden => TypedResults.Problem(statusCode: 403, detail: change.Refusal),
        _ => SvixLookup.Conflict("An application with that id or uid already exists."),
    };

    private static Ok<SvixApplicationOut> GetAsync(Tenant tenant) => TypedResults.Ok(tenant.Application.ToSvix());

    private static async Task<IResult> UpsertAsync(
        Tenant tenant, SvixApplicationIn input, ApplicationService service, IValidator<Client.ApplicationIn> validator, CancellationToken ct)
    {
        if (await CheckAsync(input, validator, ct) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var applicationIn = new Client.ApplicationIn(input.Name, input.Uid);
        var metadata = input.Metadata ?? [];
        if (!tenant.Found)
        {
            // As Svix does: the new application's uid is the body's, not the path's.
            return Outcome(await service.CreateAsync(tenant.Caller, applicationIn, ct, metadata), created: true);
        }
        return Outcome(await service.UpdateAsync(tenant.Caller, tenant.Application, applicationIn with { RetrySchedule = tenant.Application.RetrySchedule }, ct, metadata),
            created: false);
    }

    private static async Task<IResult> PatchAsync(
        Tenant tenant, [FromBody] JsonElement patch, ApplicationService service, IValidator<Client.ApplicationIn> validator, CancellationToken ct)
    {
        var application = tenant.Application;
        if (patch.ValueKind == JsonValueKind.Object && patch.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Null)
        {
            return SvixChecks.Invalid("metadata", "'metadata' must be an object (send {} to clear it).");
        }
        var (input, refused) = SvixChecks.Merge(application.ToSvixIn(), patch);
        if (input is null)
        {
            return refused!;
        }
        if (await CheckAsync(input, validator, ct) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        var change = await service.UpdateAsync(tenant.Caller, application, new Client.ApplicationIn(input.Name, input.Uid, application.RetrySchedule), ct,
            input.Metadata ?? []);
        return Outcome(change, created: false);
    }

    private static async Task<IResult> DeleteAsync(Tenant tenant, ApplicationService service, CancellationToken ct)
    {
        var change = await service.DeleteAsync(tenant.Caller, tenant.Application, ct);
        return change.Outcome == ApplicationService.Outcome.Done ? TypedResults.NoContent() : Outcome(change, created: false);
    }
}
