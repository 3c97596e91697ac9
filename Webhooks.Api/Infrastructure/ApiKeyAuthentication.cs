using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Core.Data;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// Bearer API keys: the development admin key from <c>Webhooks:AdminApiKey</c>, or a key stored (hashed)
/// in <c>api_keys</c>, scoped to every application (admin) or to one.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IConfiguration configuration,
    WebhooksDbContext db,
    LookupCache cache)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ApplicationClaim = "webhooks:app";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var key = header["Bearer ".Length..].Trim();
        var found = await ApiKeys.FindAsync(key, configuration, db, Context.RequestAborted, cache);
        return found is null ? AuthenticateResult.Fail("Unknown, revoked or malformed API key.") : Success(found.KeyId, found.ApplicationId);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(
            type: Problems.Unauthorized,
            title: "Authentication required.",
            detail: "Send 'Authorization: Bearer <api key>'.",
            statusCode: 401).ExecuteAsync(Context);
    }

    private static AuthenticateResult Success(string keyId, string? applicationId) =>
        AuthenticateResult.Success(new AuthenticationTicket(ApiKeys.Principal(keyId, applicationId, SchemeName), SchemeName));
}

public static class ApiKeys
{
    public const string Prefix = "wh_";
    public const string AdminKeyId = "admin";

    public sealed record Found(string KeyId, string? ApplicationId);

    /// <summary>
    /// The key's id and scope: the development admin key from <c>Webhooks:AdminApiKey</c>, or a stored key that
    /// is not revoked (and whose application is not deleted). Null for anything else. With a <paramref name="cache"/>, a key
    /// found is remembered for a few seconds (see <see cref="LookupCache"/>); one not found is looked up every time.
    /// </summary>
    public static async Task<Found?> FindAsync(string key, IConfiguration configuration, WebhooksDbContext db, CancellationToken ct, LookupCache? cache = null)
    {
        if (key.Length is 0 or > 256)
        {
            return null;
        }
        var admin = configuration["Webhooks:AdminApiKey"];
        if (!string.IsNullOrEmpty(admin) &&
            CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(admin)))
        {
            return new Found(AdminKeyId, null);
        }
        var hash = Hash(key);
        Task<Found?> LoadAsync() => db.ApiKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Where(k => k.ApplicationId == null || db.Applications.Any(a => a.Id == k.ApplicationId))
            .Select(k => new Found(k.Id, k.ApplicationId))
            .FirstOrDefaultAsync(ct);
        return cache is null ? await LoadAsync() : await cache.GetAsync("api-key", Convert.ToHexString(hash), LoadAsync, found => found is not null);
    }

    /// <summary>Whether a key id found earlier still stands (not revoked, its application not deleted).</summary>
    public static async Task<bool> StillValidAsync(string keyId, WebhooksDbContext db, CancellationToken ct) =>
        keyId == AdminKeyId ||
        await db.ApiKeys.AsNoTracking().AnyAsync(k => k.Id == keyId && k.RevokedAt == null &&
            (k.ApplicationId == null || db.Applications.Any(a => a.Id == k.ApplicationId)), ct);

    public static ClaimsPrincipal Principal(string keyId, string? applicationId, string scheme)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, keyId) };
        if (applicationId is not null)
        {
            claims.Add(new Claim(ApiKeyAuthenticationHandler.ApplicationClaim, applicationId));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>A new plain key: shown once, stored only as its hash.</summary>
    public static string Generate() => Prefix + Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Who is calling: an admin key sees every application, an application key only its own.</summary>
public sealed record ApiCaller(string? ApplicationId)
{
    public bool IsAdmin => ApplicationId is null;

    public bool CanAccess(string applicationId) => IsAdmin || ApplicationId == applicationId;

    public static ApiCaller From(ClaimsPrincipal user) => new(user.FindFirstValue(ApiKeyAuthenticationHandler.ApplicationClaim));
}
