using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Endpoints;

public static class EndpointRoutes
{
    public static RouteGroupBuilder MapEndpointRoutes(this RouteGroupBuilder api)
    {
        var endpoints = api.MapGroup("/apps/{appId}/endpoints").WithTags("Endpoints");
        endpoints.MapPost("/", CreateAsync).Validate<EndpointIn>();
        endpoints.MapGet("/", ListAsync);
        endpoints.MapGet("/{endpointId}", GetAsync);
        endpoints.MapPost("/{endpointId}/disable", DisableAsync).Validate<DisableEndpointIn>();
        endpoints.MapPost("/{endpointId}/enable", EnableAsync);
        endpoints.MapGet("/{endpointId}/secret", GetSecretAsync);
        endpoints.MapPost("/{endpointId}/recover", RecoverAsync).Validate<RecoverIn>();
        endpoints.MapPost("/{endpointId}/secret/rotate", RotateSecretAsync).Validate<RotateSecretIn>();
        return api;
    }

    internal static EndpointOut ToOut(this Endpoint e) => new(
        e.Id, e.Url, e.Description, e.EventTypes, e.Channels, e.RateLimitPerSecond, e.TimeoutSeconds, e.RetrySchedule,
        e.Headers, e.Metadata, e.Disabled, e.DisabledReason, e.DisabledAt, e.ConsecutiveFailures, e.LastSuccessAt, e.CreatedAt, e.UpdatedAt);

    private static EndpointSecretOut SecretOf(Endpoint e, DateTimeOffset now) =>
        e.PreviousSecretExpiresAt > now
            ? new EndpointSecretOut(e.Secret, e.PreviousSecret, e.PreviousSecretExpiresAt)
            : new EndpointSecretOut(e.Secret, null, null);

    /// <summary>The endpoint, if its application exists and the caller may see it.</summary>
    internal static async Task<Endpoint?> FindEndpointAsync(this WebhooksDbContext db, HttpContext http, string appId, string endpointId, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        return application is null
            ? null
            : await db.Endpoints.FirstOrDefaultAsync(e => e.Id == endpointId && e.ApplicationId == application.Id, ct);
    }

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
            RetrySchedule = input.RetrySchedule?.ToArray(),
        };
        db.Endpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created(
            $"/api/v1/apps/{application.Id}/endpoints/{endpoint.Id}",
            new EndpointCreated(endpoint.Id, endpoint.Url, endpoint.Secret, endpoint.ToOut()));
    }

    private static async Task<Results<Ok<ListResponse<EndpointOut>>, NotFound<ProblemDetails>>> ListAsync(
        string appId, int? limit, string? iterator, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var application = await db.FindApplicationAsync(ApiCaller.From(http.User), appId, ct);
        if (application is null)
        {
            return Problems.NotFound($"Application '{appId}'");
        }
        var take = Paging.Clamp(limit);
        var query = db.Endpoints.AsNoTracking().Where(e => e.ApplicationId == application.Id);
        if (iterator is not null)
        {
            query = query.Where(e => string.Compare(e.Id, iterator) > 0);
        }
        var rows = await query.OrderBy(e => e.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, e => e.Id, e => e.ToOut()));
    }

    private static async Task<Results<Ok<EndpointOut>, NotFound<ProblemDetails>>> GetAsync(
        string appId, string endpointId, WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Ok<EndpointOut>, NotFound<ProblemDetails>>> DisableAsync(
        string appId, string endpointId, DisableEndpointIn input, WebhooksDbContext db, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        if (!endpoint.Disabled)
        {
            await db.DisableAsync(endpoint, input.Reason ?? "Disabled by request.", time.GetUtcNow(), ct);
        }
        return TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Ok<EndpointOut>, NotFound<ProblemDetails>>> EnableAsync(
        string appId, string endpointId, WebhooksDbContext db, DispatchSignal signal, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        await db.EnableAsync(endpoint, time.GetUtcNow(), ct);
        await signal.NotifyAsync();
        return TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Accepted<RecoverOut>, NotFound<ProblemDetails>>> RecoverAsync(
        string appId, string endpointId, RecoverIn input, WebhooksDbContext db, DispatchSignal signal, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        var now = time.GetUtcNow().AtStoragePrecision();
        DateTimeOffset? dueAt = endpoint.Disabled ? null : now;
        var requeued = await db.Deliveries
            .Where(d => d.EndpointId == endpoint.Id && d.CreatedAt >= input.Since &&
                        (d.Status == DeliveryStatus.Failed || d.Status == DeliveryStatus.Exhausted))
            .ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Status, DeliveryStatus.Pending)
                .SetProperty(d => d.NextAttemptAt, dueAt)
                .SetProperty(d => d.UpdatedAt, now), ct);
        await signal.NotifyAsync();
        return TypedResults.Accepted((string?)null, new RecoverOut(requeued));
    }

    private static async Task<Results<Ok<EndpointSecretOut>, NotFound<ProblemDetails>>> GetSecretAsync(
        string appId, string endpointId, WebhooksDbContext db, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(SecretOf(endpoint, time.GetUtcNow()));
    }

    private static async Task<Results<Ok<EndpointSecretOut>, NotFound<ProblemDetails>>> RotateSecretAsync(
        string appId, string endpointId, RotateSecretIn input, WebhooksDbContext db, HttpContext http, TimeProvider time,
        IConfiguration configuration, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(http, appId, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        var now = time.GetUtcNow();
        var secret = input.Key is null ? WebhookSecret.Generate() : WebhookSecret.Parse(input.Key);
        endpoint.RotateSecret(secret.ToString(), TimeSpan.FromHours(configuration.GetValue("Webhooks:SecretRotationOverlapHours", 24.0)), now);
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(SecretOf(endpoint, now));
    }
}

public sealed class RecoverInValidator : AbstractValidator<RecoverIn>
{
    public RecoverInValidator(TimeProvider time)
    {
        RuleFor(r => r.Since).Must(since => since <= time.GetUtcNow()).WithMessage("'since' must not be in the future.");
    }
}
