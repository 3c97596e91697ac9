using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Applications;

public static class ApplicationRoutes
{
    public static RouteGroupBuilder MapApplicationRoutes(this RouteGroupBuilder api)
    {
        var apps = api.MapGroup("/apps").WithTags("Applications");
        apps.MapPost("/", CreateAsync).Validate<ApplicationIn>();
        apps.MapGet("/", ListAsync).Validate<PageQuery>();
        apps.MapGet("/{appId}", GetAsync);
        apps.MapPut("/{appId}", UpdateAsync).Validate<ApplicationIn>();
        apps.MapDelete("/{appId}", DeleteAsync);
        apps.MapGet("/{appId}/stats", StatsAsync);
        return api;
    }

    internal static ApplicationOut ToOut(this Application a) => new(a.Id, a.Name, a.Uid, a.RetrySchedule, a.CreatedAt, a.UpdatedAt);

    private static async Task<Results<Created<ApplicationOut>, ProblemHttpResult>> CreateAsync(
        ApplicationIn input, ApplicationService service, HttpContext http, CancellationToken ct)
    {
        var change = await service.CreateAsync(ApiCaller.From(http.User), input, ct);
        return change.Outcome == ApplicationService.Outcome.Done
            ? TypedResults.Created($"/api/v1/apps/{change.Application!.Id}", change.Application.ToOut())
            : Refused(change, input);
    }

    private static ProblemHttpResult Refused(ApplicationService.Change change, ApplicationIn? input) =>
        change.Outcome == ApplicationService.Outcome.Forbidden
            ? Problems.ForbiddenProblem(change.Refusal!)
            : Problems.ConflictProblem($"An application with uid '{input?.Uid}' exists.");

    private static async Task<Ok<ListResponse<ApplicationOut>>> ListAsync(
        WebhooksDbContext db, HttpContext http, [AsParameters] PageQuery page, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var take = Paging.Clamp(page.Limit);
        var query = db.Applications.AsNoTracking().Where(a => caller.IsAdmin || a.Id == caller.ApplicationId);
        if (page.Iterator is not null)
        {
            query = query.Where(a => string.Compare(a.Id, page.Iterator) > 0);
        }
        var rows = await query.OrderBy(a => a.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, a => a.Id, ToOut));
    }

    private static async Task<Results<Ok<ApplicationOut>, ProblemHttpResult>> GetAsync(
        string appId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        return application is null ? Problems.NotFound($"Application '{appId}'") : TypedResults.Ok(application.ToOut());
    }

    private static async Task<Results<Ok<ApplicationOut>, ProblemHttpResult>> UpdateAsync(
        string appId, ApplicationIn input, WebhooksDbContext db, ApplicationService service, HttpContext http, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var application = await db.FindApplicationAsync(caller, appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var change = await service.UpdateAsync(caller, application, input, ct);
        return change.Outcome == ApplicationService.Outcome.Done ? TypedResults.Ok(application.ToOut()) : Refused(change, input);
    }

    /// <summary>
    /// Deletes an application: at once it is gone for the API and nothing more of it is delivered; its rows (endpoints,
    /// messages, deliveries, attempts, keys) are removed when no delivery of it is in flight — now, or by the worker's sweep.
    /// </summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string appId, WebhooksDbContext db, ApplicationService service, HttpContext http, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var application = await db.FindApplicationAsync(caller, appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var change = await service.DeleteAsync(caller, application, ct);
        return change.Outcome == ApplicationService.Outcome.Done ? TypedResults.NoContent() : Refused(change, null);
    }

    private static async Task<Results<Ok<ApplicationStatsOut>, ProblemHttpResult>> StatsAsync(
        string appId, WebhooksDbContext db, Dashboard.DashboardQueries queries, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var o = await queries.OverviewAsync(new ApiCaller(application.Id), ct);
        return TypedResults.Ok(new ApplicationStatsOut(o.DeliveriesByStatus, o.Attempts, o.AttemptsSucceeded,
            o.SuccessRate is { } rate ? Math.Round(rate, 4) : null, o.DueBacklog,
            o.Hours.Select(h => new HourStatsOut(h.Hour, h.Succeeded, h.Failed)).ToList()));
    }
}
