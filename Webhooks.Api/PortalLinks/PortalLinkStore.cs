using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Webhooks.Core;
using Webhooks.Core.Data;

namespace Webhooks.Api.PortalLinks;

/// <summary>
/// The portal links' rules, each written once: a link is created with its expiry on the database's clock, redeemed at
/// most once (one atomic UPDATE), and its session stands while the link is neither revoked nor expired and its
/// application not deleted.
/// </summary>
public static class PortalLinkStore
{
    public const string TokenPrefix = "wpl_";

    public sealed record Created(string Id, string Token, DateTimeOffset ExpiresAt);

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public static async Task<Created> CreateAsync(WebhooksDbContext db, string applicationId, int lifetimeSeconds, bool readOnly,
        string[]? allowedEventTypes, CancellationToken ct)
    {
        var id = Ids.New(Ids.PortalLink);
        // 256 random bits; only their hash is stored.
        var token = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(token);
        var expiresAt = await db.Database.SqlQuery<DateTimeOffset>($"""
            INSERT INTO portal_links (id, application_id, token_hash, read_only, allowed_event_types, expires_at, created_at)
            VALUES ({id}, {applicationId}, {hash}, {readOnly}, {allowedEventTypes}::text[], now() + make_interval(secs => {lifetimeSeconds}), now())
            RETURNING expires_at AS "Value"
            """).ToListAsync(ct);
        return new Created(id, token, expiresAt.Single());
    }

    /// <summary>
    /// Uses the link the token names, if it is unused, unrevoked, unexpired (on the database's clock) and its application
    /// is not deleted: the link, now used; null otherwise. Two requests with one token: one of them gets the link.
    /// </summary>
    public static async Task<PortalLink?> RedeemAsync(WebhooksDbContext db, string token, CancellationToken ct)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100)
        {
            return null;
        }
        var hash = Hash(token);
        var ids = await db.Database.SqlQuery<string>($"""
            UPDATE portal_links l SET used_at = now()
            WHERE l.token_hash = {hash} AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > now()
              AND EXISTS (SELECT 1 FROM applications a WHERE a.id = l.application_id AND a.deleted_at IS NULL)
            RETURNING l.id AS "Value"
            """).ToListAsync(ct);
        return ids.Count == 0 ? null : await db.PortalLinks.AsNoTracking().FirstAsync(l => l.Id == ids[0], ct);
    }

    /// <summary>The application of the link the token names if it could be redeemed now (nothing is changed); null otherwise.</summary>
    public static async Task<Application?> PeekAsync(WebhooksDbContext db, string token, CancellationToken ct)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100)
        {
            return null;
        }
        var hash = Hash(token);
        return await db.PortalLinks.AsNoTracking()
            .Where(l => l.TokenHash == hash && l.UsedAt == null && l.RevokedAt == null && l.ExpiresAt > DateTimeOffset.UtcNow)
            .Join(db.Applications.AsNoTracking(), l => l.ApplicationId, a => a.Id, (l, a) => a)
            .FirstOrDefaultAsync(ct);
    }

    /// <summary>Whether the session of a used link still stands: not revoked, not expired (database clock), application not deleted.</summary>
    public static async Task<bool> StillValidAsync(WebhooksDbContext db, string linkId, CancellationToken ct) =>
        (await db.Database.SqlQuery<bool>($"""
            SELECT EXISTS (
                SELECT 1 FROM portal_links l JOIN applications a ON a.id = l.application_id AND a.deleted_at IS NULL
                WHERE l.id = {linkId} AND l.revoked_at IS NULL AND l.expires_at > now()) AS "Value"
            """).ToListAsync(ct)).Single();

    /// <summary>Revokes a link of the application: its session, if one was opened, ends at its next request.</summary>
    public static async Task<bool> RevokeAsync(WebhooksDbContext db, string applicationId, string linkId, CancellationToken ct) =>
        await db.Database.ExecuteSqlAsync($"""
            UPDATE portal_links SET revoked_at = coalesce(revoked_at, now())
            WHERE id = {linkId} AND application_id = {applicationId}
            """, ct) > 0;

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
