using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Receiver.Sdk;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Endpoints;

public static class EndpointRoutes
{
    public static RouteGroupBuilder MapEndpointRoutes(this RouteGroupBuilder api)
    {
        var endpoints = api.MapGroup("/apps/{appId}/endpoints").WithTags("Endpoints");
        endpoints.MapPost("/", CreateAsync).Validate<EndpointIn>();
        endpoints.MapGet("/{endpointId}", GetAsync);
        return api;
    }

    internal static EndpointOut ToOut(this Endpoint e) => new(
        e.Id, e.Url, e.Description, e.EventTypes, e.Channels, e.RateLimitPerSecond, e.TimeoutSeconds,
        e.Headers, e.Metadata, e.Disabled, e.DisabledReason, e.CreatedAt, e.UpdatedAt);

    private static async Task<Results<Created<EndpointCreated>, NotFound<ProblemDetails>>> CreateAsync(
        string appId, EndpointIn input, WebhooksDbContext db, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var secret = input.Secret is null ? WebhookSecret.Generate() : WebhookSecret.Parse(input.Secret);
        var endpoint = new Endpoint(application.Id, input.Url, secret.ToString(), time.GetUtcNow())
        {
            Description = input.Description,
            EventTypes = input.EventTypes?.Distinct(StringComparer.Ordinal).ToArray() ?? [],
            Channels = input.Channels?.Distinct(StringComparer.Ordinal).ToArray() ?? [],
            RateLimitPerSecond = input.RateLimitPerSecond,
            TimeoutSeconds = input.TimeoutSeconds ?? Endpoint.DefaultTimeoutSeconds,
            Headers = input.Headers?.ToDictionary() ?? [],
            Metadata = input.Metadata?.ToDictionary() ?? [],
        };
        db.Endpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created(
            $"/api/v1/apps/{application.Id}/endpoints/{endpoint.Id}",
            new EndpointCreated(endpoint.Id, endpoint.Url, endpoint.Secret, endpoint.ToOut()));
    }

    private static async Task<Results<Ok<EndpointOut>, NotFound<ProblemDetails>>> GetAsync(
        string appId, string endpointId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        var endpoint = application is null
            ? null
            : await db.Endpoints.AsNoTracking().FirstOrDefaultAsync(e => e.Id == endpointId && e.ApplicationId == application.Id, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(endpoint.ToOut());
    }
}
