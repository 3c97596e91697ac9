using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Api.Messages;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Endpoints;

public static class EndpointRoutes
{
    /// <param name="tenant">The <c>/apps/{appId}</c> group: one application, resolved by its filter.</param>
    public static RouteGroupBuilder MapEndpointRoutes(this RouteGroupBuilder tenant)
    {
        var endpoints = tenant.MapGroup("/endpoints").WithTags("Endpoints");
        endpoints.MapPost("/", CreateAsync).Validate<EndpointIn>();
        endpoints.MapGet("/", ListAsync).Validate<PageQuery>();
        endpoints.MapGet("/{endpointId}", GetAsync);
        endpoints.MapPut("/{endpointId}", UpdateAsync).Validate<EndpointUpdateIn>();
        endpoints.MapDelete("/{endpointId}", DeleteAsync);
        endpoints.MapPost("/{endpointId}/disable", DisableAsync).Validate<DisableEndpointIn>();
        endpoints.MapPost("/{endpointId}/enable", EnableAsync);
        endpoints.MapGet("/{endpointId}/secret", GetSecretAsync);
        endpoints.MapPost("/{endpointId}/secret/rotate", RotateSecretAsync).Validate<RotateSecretIn>();
        endpoints.MapPost("/{endpointId}/recover", RecoverAsync).Validate<RecoverIn>();
        // Waits for the worker's attempt itself, bounded by the endpoint's timeout: a longer deadline than the default.
        endpoints.MapPost("/{endpointId}/test", TestAsync).Validate<EndpointTestIn>().ProducesValidationProblem(422)
            .WithRequestTimeout(Infrastructure.ApiExtensions.EndpointTestPolicy);
        endpoints.MapGet("/{endpointId}/stats", StatsAsync);
        endpoints.MapGet("/{endpointId}/deliveries", ListDeliveriesAsync).Validate<DeliveryQuery>();
        endpoints.MapGet("/{endpointId}/attempts", ListAttemptsAsync).Validate<AttemptQuery>();
        endpoints.MapGet("/{endpointId}/history", ListHistoryAsync).Validate<HistoryQuery>();
        return tenant;
    }

    internal static EndpointOut ToOut(this Endpoint e) => new(
        e.Id, e.Url, e.Description, e.EventTypes, e.Channels, e.RateLimitPerSecond, e.TimeoutSeconds, e.RetrySchedule,
        e.Headers, e.Metadata, e.Disabled, e.DisabledReason, e.DisabledAt, e.ConsecutiveFailures, e.LastSuccessAt,
        e.CircuitBreakerThreshold, e.CircuitState.ToWire(), e.CircuitOpenedAt, e.CircuitRetryAt, e.CreatedAt, e.UpdatedAt,
        EndpointAuthRules.OutOf(e.AuthSummary), e.Filter is null ? null : System.Text.Json.JsonDocument.Parse(e.Filter).RootElement.Clone(), e.MaxInFlight, e.Transformation, e.Format, e.Ordering == DeliveryOrdering.Fifo ? OrderingModes.Fifo : OrderingModes.None);

    /// <summary>The contract's spelling of a circuit state (<see cref="CircuitStates"/>).</summary>
    internal static string ToWire(this CircuitState state) => state switch
    {
        CircuitState.Open => CircuitStates.Open,
        CircuitState.HalfOpen => CircuitStates.HalfOpen,
        _ => CircuitStates.Closed,
    };

    internal static EndpointEventOut ToOut(this EndpointEvent v) => new(v.Kind, v.CreatedAt, System.Text.Json.JsonDocument.Parse(v.Data).RootElement.Clone());

    /// <summary>The endpoint, if its application exists and the caller may see it.</summary>
    internal static Task<Endpoint?> FindEndpointAsync(this WebhooksDbContext db, Tenant tenant, string endpointId, CancellationToken ct) =>
        db.Endpoints.FirstOrDefaultAsync(e => e.Id == endpointId && e.ApplicationId == tenant.Application.Id, ct);

    private static async Task<Results<Created<EndpointCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        Tenant tenant, EndpointIn input, EndpointService service, CancellationToken ct)
    {
        var application = tenant.Application;
        var (endpoint, errors) = await service.CreateAsync(application, input, ct);
        if (endpoint is null)
        {
            return Problems.Invalid(errors!);
        }
        return TypedResults.Created(
            $"/api/v1/apps/{application.Id}/endpoints/{endpoint.Id}",
            new EndpointCreated(endpoint.Id, endpoint.Url, service.SecretOf(endpoint).Key, endpoint.ToOut()));
    }

    private static async Task<Results<Ok<ListResponse<EndpointOut>>, ProblemHttpResult>> ListAsync(
        Tenant tenant, [AsParameters] PageQuery page, WebhooksDbContext db, CancellationToken ct)
    {
        var application = tenant.Application;
        var take = Paging.Clamp(page.Limit);
        var query = db.Endpoints.AsNoTracking().Where(e => e.ApplicationId == application.Id);
        if (page.Iterator is not null)
        {
            query = query.Where(e => string.Compare(e.Id, page.Iterator) > 0);
        }
        var rows = await query.OrderBy(e => e.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Paging.Page(rows, take, e => e.Id, e => e.ToOut()));
    }

    private static async Task<Results<Ok<EndpointOut>, ProblemHttpResult>> GetAsync(
        Tenant tenant, string endpointId, WebhooksDbContext db, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Ok<EndpointOut>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        Tenant tenant, string endpointId, EndpointUpdateIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        var errors = await service.UpdateAsync(endpoint, input, ct);
        return errors is null ? TypedResults.Ok(endpoint.ToOut()) : Problems.Invalid(errors);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        Tenant tenant, string endpointId, WebhooksDbContext db, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        await db.DeleteAsync(endpoint, time.GetUtcNow(), ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<EndpointOut>, ProblemHttpResult>> DisableAsync(
        Tenant tenant, string endpointId, DisableEndpointIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        await service.DisableAsync(endpoint, input.Reason ?? "Disabled by request.", ct);
        return TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Ok<EndpointOut>, ProblemHttpResult>> EnableAsync(
        Tenant tenant, string endpointId, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        await service.EnableAsync(endpoint, ct);
        return TypedResults.Ok(endpoint.ToOut());
    }

    private static async Task<Results<Accepted<RecoverOut>, ProblemHttpResult>> RecoverAsync(
        Tenant tenant, string endpointId, RecoverIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        return TypedResults.Accepted((string?)null, new RecoverOut(await service.RecoverAsync(endpoint, TimeFilter.Utc(input.Since), ct)));
    }

    private static async Task<Results<Ok<EndpointSecretOut>, ProblemHttpResult>> GetSecretAsync(
        Tenant tenant, string endpointId, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(service.SecretOf(endpoint));
    }

    private static async Task<Results<Ok<EndpointSecretOut>, ProblemHttpResult>> RotateSecretAsync(
        Tenant tenant, string endpointId, RotateSecretIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null
            ? Problems.NotFound($"Endpoint '{endpointId}'")
            : TypedResults.Ok(await service.RotateSecretAsync(endpoint, input.Key, ct));
    }

    /// <summary>200 with the attempt when the worker made it within the endpoint's timeout; 202 with the message id otherwise.</summary>
    private static async Task<Results<Ok<EndpointTestOut>, Accepted<EndpointTestOut>, ProblemHttpResult>> TestAsync(
        Tenant tenant, string endpointId, EndpointTestIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var application = tenant.Application;
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        if (endpoint is null)
        {
            return Problems.NotFound($"Endpoint '{endpointId}'");
        }
        if (endpoint.Disabled)
        {
            return Problems.ConflictProblem("The endpoint is disabled: enable it to send a test event.");
        }
        var result = await service.TestAsync(application!, endpoint, input, ct);
        if (result.Rejected is { } rejected)
        {
            return Problems.Rejected(rejected);
        }
        return result.Sent!.Attempt is null ? TypedResults.Accepted((string?)null, result.Sent) : TypedResults.Ok(result.Sent);
    }

    private static async Task<Results<Ok<EndpointStatsOut>, ProblemHttpResult>> StatsAsync(
        Tenant tenant, string endpointId, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null ? Problems.NotFound($"Endpoint '{endpointId}'") : TypedResults.Ok(await service.StatsAsync(endpoint, ct));
    }

    private static async Task<Results<Ok<ListResponse<DeliveryOut>>, ProblemHttpResult>> ListDeliveriesAsync(
        Tenant tenant, string endpointId, [AsParameters] DeliveryQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null
            ? Problems.NotFound($"Endpoint '{endpointId}'")
            : TypedResults.Ok(await db.Deliveries.Where(d => d.EndpointId == endpoint.Id).PageAsync(query, ct));
    }

    private static async Task<Results<Ok<ListResponse<EndpointEventOut>>, ProblemHttpResult>> ListHistoryAsync(
        Tenant tenant, string endpointId, [AsParameters] HistoryQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null
            ? Problems.NotFound($"Endpoint '{endpointId}'")
            : TypedResults.Ok(await db.EndpointEvents.Where(v => v.EndpointId == endpoint.Id).PageAsync(query, ct));
    }

    /// <summary>A page of an endpoint's history, newest first.</summary>
    internal static async Task<ListResponse<EndpointEventOut>> PageAsync(this IQueryable<EndpointEvent> events, HistoryQuery query, CancellationToken ct)
    {
        var take = Paging.Clamp(query.Limit);
        if (query.Iterator is not null)
        {
            var before = long.Parse(query.Iterator, System.Globalization.CultureInfo.InvariantCulture);
            events = events.Where(v => v.Id < before);
        }
        var rows = await events.AsNoTracking().OrderByDescending(v => v.Id).Take(take + 1).ToListAsync(ct);
        return Paging.Page(rows, take, v => v.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), v => v.ToOut());
    }

    private static async Task<Results<Ok<ListResponse<AttemptOut>>, ProblemHttpResult>> ListAttemptsAsync(
        Tenant tenant, string endpointId, [AsParameters] AttemptQuery query, WebhooksDbContext db, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant, endpointId, ct);
        return endpoint is null
            ? Problems.NotFound($"Endpoint '{endpointId}'")
            : TypedResults.Ok(await db.DeliveryAttempts.Where(a => a.EndpointId == endpoint.Id).PageAsync(query, ct));
    }
}

public sealed class RecoverInValidator : AbstractValidator<RecoverIn>
{
    public RecoverInValidator(TimeProvider time)
    {
        RuleFor(r => r.Since).NotEmpty().WithMessage("'since' is required.")
            .Must(since => since <= time.GetUtcNow()).WithMessage("'since' must not be in the future.");
    }
}

public sealed class EndpointTestInValidator : AbstractValidator<EndpointTestIn>
{
    public EndpointTestInValidator(Microsoft.Extensions.Options.IOptions<PublishOptions> options)
    {
        RuleFor(t => t.EventType).NotEmpty().SetValidator(new EventTypeNameValidator());
        RuleFor(t => t.Payload!.Value).IsPayload(t => t.EventType, options.Value.MaxBodyBytes)
            .OverridePropertyName("payload")
            .When(t => t.Payload is { ValueKind: not System.Text.Json.JsonValueKind.Null });
    }
}
