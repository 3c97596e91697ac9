using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Endpoints;
using Webhooks.Client;
using Webhooks.Core.Data;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Pages.Dashboard.Apps;

public sealed class ShowModel(WebhooksDbContext db, DashboardQueries queries) : DashboardPage(db)
{
    public IReadOnlyList<Endpoint> Endpoints { get; private set; } = [];
    public IReadOnlyDictionary<string, (long Attempts, long Succeeded)> Rates { get; private set; } = new Dictionary<string, (long, long)>();
    public EndpointForm Form { get; private set; } = new();
    public Endpoint? Created { get; private set; }

    /// <summary>The new endpoint's signing secret in plain text, shown this once.</summary>
    public string? CreatedSecret { get; private set; }

    public async Task<IActionResult> OnGetAsync(string appId)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        await LoadEndpointsAsync();
        // The endpoint just created, with its secret, shown once after the redirect.
        if (TempData[CreatedKey] is string created && created.Split('|', 2) is [var endpointId, var secret])
        {
            Created = Endpoints.FirstOrDefault(e => e.Id == endpointId);
            CreatedSecret = Created is null ? null : secret;
        }
        return Page();
    }

    private const string CreatedKey = "CreatedEndpoint";

    public async Task<IActionResult> OnPostAsync(string appId, EndpointForm form, [FromServices] IValidator<EndpointIn> validator, [FromServices] EndpointService service)
    {
        if (!await LoadApplicationAsync(appId))
        {
            return Missing($"Application '{appId}'");
        }
        var input = form.ToInput(ModelState);
        var result = input is null ? null : await validator.ValidateAsync(input, HttpContext.RequestAborted);
        if (input is null || !result!.IsValid || !MaySubscribe(input.EventTypes))
        {
            if (result is not null)
            {
                AddErrors(result);
            }
            Form = form;
        }
        else
        {
            var (created, errors) = await service.CreateAsync(Application!, input, HttpContext.RequestAborted);
            if (created is null)
            {
                AddErrors(errors!);
                Form = form;
            }
            else
            {
                // Post, redirect, get: a reload of the result creates nothing more.
                TempData[CreatedKey] = created.Id + "|" + service.SecretOf(created).Key;
                return Redirect($"/dashboard/apps/{Application!.Id}");
            }
        }
        await LoadEndpointsAsync();
        return Page();
    }

    private async Task LoadEndpointsAsync()
    {
        Endpoints = await Db.Endpoints.AsNoTracking().Where(e => e.ApplicationId == Application!.Id).OrderBy(e => e.Id).Take(500).ToListAsync(HttpContext.RequestAborted);
        Rates = await queries.EndpointRatesAsync(Endpoints.Select(e => e.Id).ToList(), HttpContext.RequestAborted);
    }
}
