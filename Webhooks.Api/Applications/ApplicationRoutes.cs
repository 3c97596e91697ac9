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
        apps.MapGet("/", ListAsync);
        apps.MapGet("/{appId}", GetAsync);
        return api;
    }

    internal static ApplicationOut ToOut(this Application a) => new(a.Id, a.Name, a.Uid, a.RetrySchedule, a.CreatedAt, a.UpdatedAt);

    private static async Task<Results<Created<ApplicationOut>, ProblemHttpResult>> CreateAsync(
        ApplicationIn input, WebhooksDbContext db, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        if (!ApiCaller.From(http.User).IsAdmin)
        {
            return TypedResults.Problem(type: Problems.Unauthorized, title: "Forbidden", detail: "Only an admin key can create applications.", statusCode: 403);
        }
        if (input.Uid is not null && await db.Applications.AnyAsync(a => a.Uid == input.Uid, ct))
        {
            return TypedResults.Problem(type: Problems.Conflict, title: "Conflict", detail: $"An application with uid '{input.Uid}' exists.", statusCode: 409);
        }
        var application = new Application(input.Name, input.Uid, time.GetUtcNow()) { RetrySchedule = input.RetrySchedule?.ToArray() };
        db.Applications.Add(application);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/apps/{application.Id}", application.ToOut());
    }

    private static async Task<Ok<ListResponse<ApplicationOut>>> ListAsync(
        WebhooksDbContext db, HttpContext http, int? limit, string? iterator, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var take = Paging.Clamp(limit);
        var query = db.Applications.AsNoTracking().Where(a => caller.IsAdmin || a.Id == caller.ApplicationId);
        if (iterator is not null)
        {
            query = query.Where(a => string.Compare(a.Id, iterator) > 0);
        }
        var rows = await query.OrderBy(a => a.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, a => a.Id, ToOut));
    }

    private static async Task<Results<Ok<ApplicationOut>, NotFound<ProblemDetails>>> GetAsync(
        string appId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        return application is null ? Problems.NotFound($"Application '{appId}'") : TypedResults.Ok(application.ToOut());
    }
}
