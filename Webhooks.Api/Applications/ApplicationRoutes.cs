using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Applications;

public static class ApplicationRoutes
{
    /// <param name="api">The API's root group: creating and listing applications.</param>
    /// <param name="tenant">The <c>/apps/{appId}</c> group: one application, resolved by its filter.</param>
    public static RouteGroupBuilder MapApplicationRoutes(this RouteGroupBuilder api, RouteGroupBuilder tenant)
    {
        var apps = api.MapGroup("/apps").WithTags("Applications");
        apps.MapPost("/", CreateAsync).Validate<ApplicationIn>();
        apps.MapGet("/", ListAsync).Validate<PageQuery>();
        tenant.MapGet("", GetAsync).WithTags("Applications");
        tenant.MapPut("", UpdateAsync).Validate<ApplicationIn>().WithTags("Applications");
        tenant.MapDelete("", DeleteAsync).WithTags("Applications");
        tenant.MapGet("/stats", StatsAsync).WithTags("Applications");
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

    private static Ok<ApplicationOut> GetAsync(Tenant tenant) => TypedResults.Ok(tenant.Application.ToOut());

    private static async Task<Results<Ok<ApplicationOut>, ProblemHttpResult>> UpdateAsync(
        Tenant tenant, ApplicationIn input, ApplicationService service, HttpContext http, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var application = tenant.Application;
        var change = await service.UpdateAsync(caller, application, input, ct);
        return change.Outcome == ApplicationService.Outcome.Done ? TypedResults.Ok(application.ToOut()) : Refused(change, input);
    }

    /// <summary>
    /// Deletes an application: at once it is gone for the API and nothing more of it is delivered; its rows (endpoints,
    /// messages, deliveries, attempts, keys) are removed when no delivery of it is in flight — now, or by the worker's sweep.
    /// </summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        Tenant tenant, ApplicationService service, HttpContext http, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var application = tenant.Application;
        var change = await service.DeleteAsync(caller, application, ct);
        return change.Outcome == ApplicationService.Outcome.Done ? TypedResults.NoContent() : Refused(change, null);
    }

    private static async Task<Results<Ok<ApplicationStatsOut>, ProblemHttpResult>> StatsAsync(
        Tenant tenant, Dashboard.DashboardQueries queries, CancellationToken ct)
    {
        var application = tenant.Application;
        var o = await queries.OverviewAsync(new ApiCaller(application.Id), ct);
        return TypedResults.Ok(new ApplicationStatsOut(o.DeliveriesByStatus, o.Attempts, o.AttemptsSucceeded,
            o.SuccessRate is { } rate ? Math.Round(rate, 4) : null, o.DueBacklog,
            o.Hours.Select(h => new HourStatsOut(h.Hour, h.Succeeded, h.Failed)).ToList()));
    }
}
