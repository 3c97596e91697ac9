using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Applications;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Pages.Dashboard.Apps;

public sealed class IndexModel(WebhooksDbContext db, ApplicationService service) : DashboardPage(db)
{
    private const int PageSize = 50;

    public IReadOnlyList<Application> Applications { get; private set; } = [];
    public string? Next { get; private set; }
    public string? Name { get; private set; }
    public string? Uid { get; private set; }

    public async Task OnGetAsync(string? after)
    {
        var caller = Caller;
        var query = Db.Applications.AsNoTracking().Where(a => caller.IsAdmin || a.Id == caller.ApplicationId);
        if (after is not null)
        {
            query = query.Where(a => string.Compare(a.Id, after) > 0);
        }
        var rows = await query.OrderBy(a => a.Id).Take(PageSize + 1).ToListAsync(HttpContext.RequestAborted);
        Applications = rows.Take(PageSize).ToList();
        Next = rows.Count > PageSize ? Applications[^1].Id : null;
    }

    public async Task<IActionResult> OnPostAsync(string? name, string? uid, [FromServices] IValidator<ApplicationIn> validator)
    {
        var input = new ApplicationIn(name ?? "", string.IsNullOrWhiteSpace(uid) ? null : uid.Trim());
        var result = await validator.ValidateAsync(input, HttpContext.RequestAborted);
        var change = result.IsValid ? await service.CreateAsync(Caller, input, HttpContext.RequestAborted) : null;
        switch (change?.Outcome)
        {
            case ApplicationService.Outcome.Done:
                Notice = $"Application '{change.Application!.Name}' created.";
                return Redirect($"/dashboard/apps/{change.Application.Id}");
            case ApplicationService.Outcome.Forbidden:
                return Forbid();
            case ApplicationService.Outcome.UidTaken:
                ModelState.AddModelError("uid", $"An application with uid '{input.Uid}' exists.");
                break;
        }
        AddErrors(result);
        (Name, Uid) = (name, uid);
        await OnGetAsync(null);
        return Page();
    }
}
