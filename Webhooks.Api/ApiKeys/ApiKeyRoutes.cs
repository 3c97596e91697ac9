using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.ApiKeys;

public sealed class ApiKeyInValidator : AbstractValidator<ApiKeyIn>
{
    public ApiKeyInValidator()
    {
        RuleFor(k => k.Name).NotEmpty().MaximumLength(256).Must(Text.IsPrintable);
        // An application's id or uid: looked up as it is, so it has their shape (a NUL, say, would reach the database).
        RuleFor(k => k.ApplicationId!).MaximumLength(256).Matches("^[a-zA-Z0-9_.-]+\\z").When(k => k.ApplicationId is not null)
            .WithMessage("'applicationId' must be an application's id or uid.");
    }
}

/// <summary>
/// API keys: an admin key manages every key; an application's key manages its own application's keys and
/// can neither see nor create admin keys. Keys are stored as SHA-256 hashes; the plain key is shown once.
/// </summary>
public static class ApiKeyRoutes
{
    public static RouteGroupBuilder MapApiKeyRoutes(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/api-keys").WithTags("API keys");
        keys.MapPost("/", CreateAsync).Validate<ApiKeyIn>();
        keys.MapGet("/", ListAsync);
        keys.MapDelete("/{keyId}", RevokeAsync);
        return api;
    }

    private static ApiKeyOut ToOut(ApiKey k) => new(k.Id, k.Name, k.ApplicationId, k.DisplayPrefix, k.CreatedAt, k.RevokedAt);

    private static async Task<Results<Created<ApiKeyCreated>, ProblemHttpResult>> CreateAsync(
        ApiKeyIn input, WebhooksDbContext db, HttpContext http, TimeProvider time, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        string? applicationId = null;
        if (input.ApplicationId is not null)
        {
            var application = await db.FindApplicationAsync(caller, input.ApplicationId, ct);
            if (application is null)
            {
                return Problems.NotFound($"Application '{input.ApplicationId}'");
            }
            applicationId = application.Id;
        }
        else if (!caller.IsAdmin)
        {
            return Problems.ForbiddenProblem("Only an admin key can create admin keys.");
        }
        var plain = Infrastructure.ApiKeys.Generate();
        var key = new ApiKey(input.Name, applicationId, Infrastructure.ApiKeys.Hash(plain), plain[..10], time.GetUtcNow());
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/api-keys/{key.Id}", new ApiKeyCreated(key.Id, plain, ToOut(key)));
    }

    private static async Task<Ok<ListResponse<ApiKeyOut>>> ListAsync(WebhooksDbContext db, HttpContext http, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var keys = await db.ApiKeys.AsNoTracking()
            .Where(k => caller.IsAdmin || k.ApplicationId == caller.ApplicationId)
            .OrderBy(k => k.Id)
            .ToListAsync(ct);
        return TypedResults.Ok(new ListResponse<ApiKeyOut>(keys.Select(ToOut).ToList(), null, true));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        string keyId, WebhooksDbContext db, HttpContext http, TimeProvider time, LookupCache cache, CancellationToken ct)
    {
        var caller = ApiCaller.From(http.User);
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && (caller.IsAdmin || k.ApplicationId == caller.ApplicationId), ct);
        if (key is null)
        {
            return Problems.NotFound($"API key '{keyId}'");
        }
        key.Revoke(time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return TypedResults.NoContent();
    }
}
