using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Sources;

/// <summary>Creates sources, rotates their secrets, and finds the source of an ingest token (cached, as publishes' lookups are).</summary>
public sealed class SourceService(WebhooksDbContext db, SecretProtector secrets, SourceTypeRegistry types, LookupCache cache, TimeProvider time,
    IConfiguration configuration, IOptions<DashboardOptions> dashboard)
{
    /// <summary>The path of the ingest URLs (the token follows it).</summary>
    public const string IngestPath = "/ingest/";

    /// <summary>What the ingest route needs of a source, with its secrets in plain text (cached).</summary>
    public sealed record Lookup(string Id, string ApplicationId, string Type, int RateLimitPerSecond, IReadOnlyList<string> Secrets);

    public async Task<(Source Source, string Secret)> CreateAsync(string applicationId, SourceIn input, CancellationToken ct)
    {
        var type = types.Find(input.Type)!;
        var secret = input.Secret ?? type.GenerateSecret()!;
        var source = new Source(applicationId, input.Name, type.Name, secrets.Protect(secret), NewToken(),
            input.RateLimitPerSecond ?? Source.DefaultRateLimitPerSecond, time.GetUtcNow());
        db.Sources.Add(source);
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return (source, secret);
    }

    public async Task UpdateAsync(Source source, SourceUpdateIn input, CancellationToken ct)
    {
        source.Update(input.Name, input.RateLimitPerSecond ?? source.RateLimitPerSecond, time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
    }

    public async Task DeleteAsync(Source source, CancellationToken ct)
    {
        db.Sources.Remove(source);
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
    }

    /// <summary>Why <paramref name="secret"/> cannot be the source's new secret, or null (a missing one is generated where the type can).</summary>
    public string? CheckRotation(Source source, string? secret)
    {
        var type = types.Find(source.Type)!;
        return secret is null
            ? type.GenerateSecret() is null ? $"A '{type.Name}' source needs the new secret its sender shows." : null
            : type.CheckSecret(secret);
    }

    /// <summary>Verifies with the new secret from now on; the old one passes for <c>Webhooks:SecretRotationOverlapHours</c> (24 h).</summary>
    public async Task<SourceSecretOut> RotateAsync(Source source, string? secret, CancellationToken ct)
    {
        var next = secret ?? types.Find(source.Type)!.GenerateSecret()!;
        source.RotateSecret(secrets.Protect(next), TimeSpan.FromHours(configuration.GetValue("Webhooks:SecretRotationOverlapHours", 24.0)), time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return SecretOf(source);
    }

    public SourceSecretOut SecretOf(Source source) =>
        source.PreviousSecretExpiresAt > time.GetUtcNow()
            ? new SourceSecretOut(secrets.Unprotect(source.Secret), secrets.UnprotectOrNull(source.PreviousSecret), source.PreviousSecretExpiresAt)
            : new SourceSecretOut(secrets.Unprotect(source.Secret), null, null);

    public SourceOut ToOut(Source source, HttpContext http) =>
        new(source.Id, source.Name, source.Type, IngestUrlOf(source, http), source.RateLimitPerSecond, source.CreatedAt, source.UpdatedAt);

    /// <summary>On <c>Webhooks:Dashboard:PublicUrl</c> when set (the address senders reach), else on the request's own origin.</summary>
    public string IngestUrlOf(Source source, HttpContext http) => dashboard.Value.BaseUrl(http) + IngestPath + source.IngestToken;

    /// <summary>A new ingest URL for the source (a leaked one then answers 404 at once); the sender must be given the new one.</summary>
    public async Task RotateTokenAsync(Source source, CancellationToken ct)
    {
        source.ChangeIngestToken(NewToken(), time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
    }

    /// <summary>The source of an ingest token if this process has it cached.</summary>
    public Lookup? Cached(string token) => cache.TryGet<Lookup>(LookupKind, token, out var found) ? found : null;

    private const string LookupKind = "source";

    /// <summary>The source of an ingest token, with its live secrets; null when none has it (or its application is deleted).</summary>
    public Task<Lookup?> FindAsync(string token, CancellationToken ct) =>
        cache.GetAsync(LookupKind, token, async () =>
        {
            var source = await db.Sources.AsNoTracking()
                .Where(s => s.IngestToken == token && db.Applications.Any(a => a.Id == s.ApplicationId))
                .FirstOrDefaultAsync(ct);
            if (source is null)
            {
                return null;
            }
            var live = new List<string> { secrets.Unprotect(source.Secret) };
            if (source.PreviousSecret is not null && source.PreviousSecretExpiresAt > time.GetUtcNow())
            {
                live.Add(secrets.Unprotect(source.PreviousSecret));
            }
            return new Lookup(source.Id, source.ApplicationId, source.Type, source.RateLimitPerSecond, live);
        }, keep: found => found is not null);

    /// <summary>An ingest token has this shape: 43 base64url characters (32 random bytes).</summary>
    public static bool IsTokenShaped(string token) =>
        token.Length == 43 && token.AsSpan().IndexOfAnyExcept(TokenCharacters) < 0;

    private static readonly System.Buffers.SearchValues<char> TokenCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static string NewToken() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
