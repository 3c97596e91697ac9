using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Endpoints;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Svix;

/// <summary>
/// Svix's <c>/api/v1/app/{app}/endpoint</c>, over the same <see cref="EndpointService"/> as this API's endpoints. Svix's
/// surface changes only what Svix knows of an endpoint; its authentication, filter, transformation, retry schedule,
/// ordering and circuit settings (set through <c>/api/v1/apps</c> or the console) are kept.
/// </summary>
public static class SvixEndpoints
{
    private const string Disabled = "Disabled by request.";

    /// <summary>Headers whose values GET …/headers lists by name only, as Svix does.</summary>
    private static readonly string[] Sensitive =
        ["authorization", "x-auth-token", "x-api-key", "www-authenticate", "proxy-authenticate", "proxy-authorization"];

    private static readonly Dictionary<string, string> Renames = new() { ["rateLimitPerSecond"] = "throttleRate" };

    public static void Map(RouteGroupBuilder app)
    {
        var endpoints = app.MapGroup("/endpoint");
        endpoints.MapGet("", ListAsync);
        endpoints.MapPost("", CreateAsync);
        endpoints.MapGet("/{endpointId}", GetAsync);
        endpoints.MapPut("/{endpointId}", UpsertAsync);
        endpoints.MapPatch("/{endpointId}", PatchAsync);
        endpoints.MapDelete("/{endpointId}", DeleteAsync);
        endpoints.MapGet("/{endpointId}/secret", GetSecretAsync);
        endpoints.MapPost("/{endpointId}/secret/rotate", RotateSecretAsync);
        endpoints.MapGet("/{endpointId}/headers", GetHeadersAsync);
        endpoints.MapPut("/{endpointId}/headers", SetHeadersAsync);
        endpoints.MapPatch("/{endpointId}/headers", PatchHeadersAsync);
        endpoints.MapPost("/{endpointId}/recover", RecoverAsync);
    }

    internal static SvixEndpointOut ToSvix(this Endpoint e)
    {
        IReadOnlyList<string>? types = e.EventTypes.Length == 0 ? null : e.EventTypes;
        return new SvixEndpointOut(e.Id, e.Uid, e.Url, e.Description ?? "", e.Disabled, types, types, e.Channels.Length == 0 ? null : e.Channels,
            e.RateLimitPerSecond, e.RateLimitPerSecond, e.Metadata, e.CreatedAt, e.UpdatedAt);
    }

    private static SvixEndpointIn ToSvixIn(this Endpoint e) => new(e.Url, e.Description, e.Uid, e.Disabled,
        e.EventTypes.Length == 0 ? null : e.EventTypes, null, e.Channels.Length == 0 ? null : e.Channels, e.RateLimitPerSecond, null, null, e.Metadata);

    /// <summary>Svix's rules on top of this API's endpoint rules (which the caller runs on the mapped request).</summary>
    private static Dictionary<string, string[]>? SvixProblems(SvixEndpointIn input)
    {
        if (input.Uid is not null && (!SvixChecks.IsUid(input.Uid) || input.Uid.StartsWith("ep_", StringComparison.Ordinal)))
        {
            return new() { ["uid"] = ["'uid' must be 1 to 256 letters, digits, '-', '_' or '.', and must not start with 'ep_'."] };
        }
        if (input.Types is { Count: 0 })
        {
            return new() { [input.EventTypes is null ? "filterTypes" : "eventTypes"] = ["Give at least one event type, or null for all."] };
        }
        if (input.Channels is { Count: 0 })
        {
            return new() { ["channels"] = ["Give at least one channel, or null for all."] };
        }
        return null;
    }

    private static async Task<Results<Ok<SvixList<SvixEndpointOut>>, ValidationProblem>> ListAsync(
        Tenant tenant, WebhooksDbContext db, int? limit, string? iterator, string? order, CancellationToken ct)
    {
        if (SvixPaging.Descending(order, byDefault: true) is not { } descending)
        {
            return SvixChecks.Invalid("order", "'order' must be 'ascending' or 'descending'.");
        }
        if (limit is < 1 or > Paging.MaxLimit)
        {
            return SvixChecks.Invalid("limit", $"'limit' must be 1 to {Paging.MaxLimit}.");
        }
        var query = db.Endpoints.AsNoTracking().Where(e => e.ApplicationId == tenant.Application.Id);
        return TypedResults.Ok(await SvixPaging.PageAsync(query, e => e.Id, descending, iterator, limit, ToSvix, ct));
    }

    private static async Task<IResult> CreateAsync(
        Tenant tenant, SvixEndpointIn input, EndpointService service, IValidator<EndpointIn> validator, WebhooksDbContext db, CancellationToken ct)
    {
        var mapped = new EndpointIn(input.Url, input.Description, input.Types, input.Channels, input.Secret, input.Throttle,
            Headers: input.Headers, Metadata: input.Metadata);
        if ((SvixProblems(input) ?? await SvixChecks.ValidateAsync(validator, mapped, ct, Renames)) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        if (input.Uid is not null && await db.Endpoints.AnyAsync(e => e.ApplicationId == tenant.Application.Id && e.Uid == input.Uid, ct))
        {
            return SvixLookup.Conflict($"An endpoint with uid '{input.Uid}' exists.");
        }
        Endpoint? endpoint;
        try
        {
            (endpoint, var authErrors) = await service.CreateAsync(tenant.Application, mapped, ct, input.Uid);
            if (endpoint is null)
            {
                return Problems.Invalid(authErrors!);
            }
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return SvixLookup.Conflict($"An endpoint with uid '{input.Uid}' exists.");
        }
        if (input.Disabled == true)
        {
            await service.DisableAsync(endpoint, Disabled, ct);
        }
        return TypedResults.Created($"/api/v1/app/{tenant.Application.Id}/endpoint/{endpoint.Id}", endpoint.ToSvix());
    }

    private static async Task<IResult> GetAsync(Tenant tenant, string endpointId, WebhooksDbContext db, CancellationToken ct) =>
        await db.FindEndpointAsync(tenant.Application, endpointId, ct) is { } endpoint
            ? TypedResults.Ok(endpoint.ToSvix())
            : SvixLookup.NotFound("Endpoint");

    /// <summary>PUT: replaces what Svix knows of the endpoint (its secret excepted), or creates it with a new secret.</summary>
    private static async Task<IResult> UpsertAsync(
        Tenant tenant, string endpointId, SvixEndpointIn input, EndpointService service, IValidator<EndpointIn> validator, WebhooksDbContext db,
        CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return await CreateAsync(tenant, input with { Secret = null }, service, validator, db, ct);
        }
        return await ReplaceAsync(endpoint, input with { Headers = endpoint.Headers, Disabled = input.Disabled ?? false }, service, validator, db, ct);
    }

    private static async Task<IResult> PatchAsync(
        Tenant tenant, string endpointId, [FromBody] JsonElement patch, EndpointService service, IValidator<EndpointIn> validator, WebhooksDbContext db,
        CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        // filterTypes and rateLimit are Svix's older names: a patch that sets either sets the field.
        var current = endpoint.ToSvixIn();
        if (patch.ValueKind == JsonValueKind.Object && patch.TryGetProperty("filterTypes", out _) && !patch.TryGetProperty("eventTypes", out _))
        {
            current = current with { EventTypes = null };
        }
        if (patch.ValueKind == JsonValueKind.Object && patch.TryGetProperty("rateLimit", out _) && !patch.TryGetProperty("throttleRate", out _))
        {
            current = current with { ThrottleRate = null };
        }
        var (input, refused) = SvixChecks.Merge(current, patch);
        if (input is null)
        {
            return refused!;
        }
        return await ReplaceAsync(endpoint, input with { Headers = endpoint.Headers, Secret = null }, service, validator, db, ct);
    }

    private static async Task<IResult> ReplaceAsync(
        Endpoint endpoint, SvixEndpointIn input, EndpointService service, IValidator<EndpointIn> validator, WebhooksDbContext db, CancellationToken ct)
    {
        var mapped = new EndpointIn(input.Url, input.Description, input.Types, input.Channels, null, input.Throttle, Headers: input.Headers, Metadata: input.Metadata);
        if ((SvixProblems(input) ?? await SvixChecks.ValidateAsync(validator, mapped, ct, Renames)) is { } errors)
        {
            return Problems.Invalid(errors);
        }
        if (endpoint.Auth is not null && !EndpointAuthRules.SameOrigin(input.Url, endpoint.Url))
        {
            return SvixChecks.Invalid("url",
                "The endpoint authenticates to its receiver: moving it to another origin needs its credentials again (PUT /api/v1/apps/{app}/endpoints/{id} with 'auth').");
        }
        if (input.Uid != endpoint.Uid && input.Uid is not null &&
            await db.Endpoints.AnyAsync(e => e.ApplicationId == endpoint.ApplicationId && e.Uid == input.Uid && e.Id != endpoint.Id, ct))
        {
            return SvixLookup.Conflict($"An endpoint with uid '{input.Uid}' exists.");
        }
        endpoint.Uid = input.Uid;
        try
        {
            await service.ConfigureBasicsAsync(endpoint, input.Url, input.Description, input.Types, input.Channels, input.Throttle,
                input.Metadata ?? [], input.Headers ?? [], ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return SvixLookup.Conflict($"An endpoint with uid '{input.Uid}' exists.");
        }
        if (input.Disabled == true && !endpoint.Disabled)
        {
            await service.DisableAsync(endpoint, Disabled, ct);
        }
        else if (input.Disabled == false && endpoint.Disabled)
        {
            await service.EnableAsync(endpoint, ct);
        }
        return TypedResults.Ok(endpoint.ToSvix());
    }

    private static async Task<IResult> DeleteAsync(Tenant tenant, string endpointId, WebhooksDbContext db, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        await db.DeleteAsync(endpoint, time.GetUtcNow(), ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> GetSecretAsync(Tenant tenant, string endpointId, WebhooksDbContext db, EndpointService service, CancellationToken ct) =>
        await db.FindEndpointAsync(tenant.Application, endpointId, ct) is { } endpoint
            ? TypedResults.Ok(new SvixEndpointSecretOut(service.SecretOf(endpoint).Key))
            : SvixLookup.NotFound("Endpoint");

    /// <summary>
    /// Rotates the secret: the old one keeps signing, beside the new, for <c>gracePeriodSeconds</c> (0 to 7 days;
    /// default this server's overlap, 24 h). One previous secret is kept: a second rotation within the grace period
    /// ends the first one's.
    /// </summary>
    private static async Task<IResult> RotateSecretAsync(
        Tenant tenant, string endpointId, [FromBody] SvixSecretRotateIn? input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        if (input?.Key is { } key && !WebhookSecret.TryParse(key, out _, out _))
        {
            return SvixChecks.Invalid("key",
                $"'key' must be '{WebhookSecret.Prefix}' followed by the base64 of {WebhookSecret.MinKeyBytes} to {WebhookSecret.MaxKeyBytes} bytes.");
        }
        if (input?.GracePeriodSeconds is < 0 or > 604_800)
        {
            return SvixChecks.Invalid("gracePeriodSeconds", "'gracePeriodSeconds' must be 0 to 604800 (7 days).");
        }
        await service.RotateSecretAsync(endpoint, input?.Key, ct, input?.GracePeriodSeconds is { } grace ? TimeSpan.FromSeconds(grace) : null);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> GetHeadersAsync(Tenant tenant, string endpointId, WebhooksDbContext db, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        bool IsSensitive(string name) => Sensitive.Contains(name, StringComparer.OrdinalIgnoreCase);
        return TypedResults.Ok(new SvixHeadersOut(
            endpoint.Headers.Where(h => !IsSensitive(h.Key)).ToDictionary(),
            endpoint.Headers.Keys.Where(IsSensitive).ToList()));
    }

    private static async Task<IResult> SetHeadersAsync(
        Tenant tenant, string endpointId, SvixHeadersIn input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        if (input.Headers is null)
        {
            return SvixChecks.Invalid("headers", "'headers' is required: an object of header names and values.");
        }
        return await SaveHeadersAsync(endpoint, input.Headers, service, ct);
    }

    /// <summary>PATCH …/headers: a value sets its header, a null removes it (as does a name in <c>deleteHeaders</c>).</summary>
    private static async Task<IResult> PatchHeadersAsync(
        Tenant tenant, string endpointId, [FromBody] JsonElement input, WebhooksDbContext db, EndpointService service, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        if (input.ValueKind != JsonValueKind.Object || !input.TryGetProperty("headers", out var patch) || patch.ValueKind != JsonValueKind.Object)
        {
            return SvixChecks.Invalid("headers", "'headers' is required: an object of header names and values (null removes a header).");
        }
        // Names compare without case; a row stored with two spellings of one name keeps the last.
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in endpoint.Headers)
        {
            headers[name] = value;
        }
        var named = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in patch.EnumerateObject())
        {
            if (!named.Add(header.Name))
            {
                return SvixChecks.Invalid("headers", $"Header names are case-insensitive: '{header.Name}' is given more than once.");
            }
            switch (header.Value.ValueKind)
            {
                case JsonValueKind.Null:
                    headers.Remove(header.Name);
                    break;
                case JsonValueKind.String:
                    headers[header.Name] = header.Value.GetString()!;
                    break;
                default:
                    return SvixChecks.Invalid($"headers.{header.Name}", "A header's value must be a string, or null to remove it.");
            }
        }
        if (input.TryGetProperty("deleteHeaders", out var deletes) && deletes.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in deletes.EnumerateArray())
            {
                if (name.ValueKind == JsonValueKind.String)
                {
                    headers.Remove(name.GetString()!);
                }
            }
        }
        return await SaveHeadersAsync(endpoint, headers, service, ct);
    }

    private static async Task<IResult> SaveHeadersAsync(Endpoint endpoint, IReadOnlyDictionary<string, string> headers, EndpointService service, CancellationToken ct)
    {
        if (headers.Count > CustomHeaders.MaxCount)
        {
            return SvixChecks.Invalid("headers", $"At most {CustomHeaders.MaxCount} headers.");
        }
        if (headers.Keys.GroupBy(name => name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            return SvixChecks.Invalid("headers", $"Header names are case-insensitive: '{twice.Key}' is given more than once.");
        }
        foreach (var (name, value) in headers)
        {
            if (value is null || !CustomHeaders.IsAllowed(name, value))
            {
                return SvixChecks.Invalid($"headers.{name}",
                    $"Header '{name}': names must be tokens, not reserved (webhook-*, svix-*, content-*, host, …), and values visible ASCII up to 4096 characters.");
            }
        }
        await service.ConfigureBasicsAsync(endpoint, endpoint.Url, endpoint.Description, endpoint.EventTypes, endpoint.Channels, endpoint.RateLimitPerSecond,
            endpoint.Metadata, headers.ToDictionary(), ct);
        return TypedResults.NoContent();
    }

    /// <summary>Requeues the failed deliveries of the window; done when this answers (the task's status is <c>finished</c>).</summary>
    private static async Task<IResult> RecoverAsync(
        Tenant tenant, string endpointId, SvixRecoverIn input, WebhooksDbContext db, EndpointService service, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await db.FindEndpointAsync(tenant.Application, endpointId, ct);
        if (endpoint is null)
        {
            return SvixLookup.NotFound("Endpoint");
        }
        var now = time.GetUtcNow();
        if (input.Since == default || input.Since > now)
        {
            return SvixChecks.Invalid("since", "'since' is required and must not be in the future.");
        }
        if (input.Until is { } until && until <= input.Since)
        {
            return SvixChecks.Invalid("until", "'until' must be after 'since'.");
        }
        await service.RecoverAsync(endpoint, input.Since, ct, input.Until);
        return TypedResults.Accepted((string?)null, new SvixRecoverOut(Ids.New("qtask"), "finished", "endpoint.recover", now));
    }
}
