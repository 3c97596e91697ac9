using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Webhooks.Api.Svix;

/// <summary>
/// Svix's <c>idempotency-key</c>: a POST to the Svix surface that carries one gets back the first 2xx answer given to
/// the same key, path (with its query) and credential, for 12 hours, instead of running again; a repeat that arrives
/// while the first still runs waits for it. An answer that is not 2xx is not kept (a retry runs anew), and a first
/// request that dies leaves its claim to expire after <see cref="LockFor"/>. The answers are kept in Postgres (the
/// table <c>idempotent_responses</c>; the worker's retention removes them after 12 hours), so every API replica sees them.
/// </summary>
public sealed partial class SvixIdempotency(RequestDelegate next, NpgsqlDataSource dataSource, ILogger<SvixIdempotency> logger)
{
    public const string Header = "idempotency-key";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>How long a first request holds its key before a repeat may take over (longer than any request's deadline).</summary>
    public static readonly TimeSpan LockFor = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public async Task InvokeAsync(HttpContext http)
    {
        var key = http.Request.Headers[Header].ToString();
        if (!HttpMethods.IsPost(http.Request.Method) || key.Length == 0 || !SvixSurface.Is(http.Request.Path) ||
            http.User.FindFirstValue(ClaimTypes.NameIdentifier) is not { } credential)
        {
            await next(http);
            return;
        }
        if (key.Length > 256 || !key.All(c => c is > ' ' and <= '~'))
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new Microsoft.AspNetCore.Mvc.ProblemDetails
                {
                    Status = 400,
                    Detail = "The 'idempotency-key' header must be 1 to 256 visible ASCII characters.",
                },
            });
            return;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{credential}\n{key}\n{http.Request.Path}{http.Request.QueryString}"));
        while (true)
        {
            if (await TryClaimAsync(hash, http.RequestAborted))
            {
                await RunAndKeepAsync(http, hash);
                return;
            }
            var kept = await ReadAsync(hash, http.RequestAborted);
            if (kept is { Status: { } status })
            {
                http.Response.StatusCode = status;
                http.Response.ContentType = kept.ContentType;
                http.Response.Headers["idempotent-replayed"] = "true";
                await http.Response.Body.WriteAsync(kept.Body ?? [], http.RequestAborted);
                return;
            }
            // The first request still runs (or it just failed, freeing the key): look again shortly. The request's
            // deadline bounds the wait (503, which the SDK retries with the same key).
            await Task.Delay(Poll, http.RequestAborted);
        }
    }

    private async Task RunAndKeepAsync(HttpContext http, byte[] hash)
    {
        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        var kept = false;
        try
        {
            await next(http);
            buffer.Position = 0;
            http.Response.Body = original;
            if (http.Response.StatusCode is >= 200 and < 300)
            {
                await KeepAsync(hash, http.Response.StatusCode, http.Response.ContentType, buffer.ToArray());
                kept = true;
            }
            await buffer.CopyToAsync(original, http.RequestAborted);
        }
        finally
        {
            http.Response.Body = original;
            if (!kept)
            {
                await ReleaseAsync(hash);
            }
        }
    }

    // Claims the key: a new row, or one whose 12 hours are over, or one whose first request died holding it.
    private async Task<bool> TryClaimAsync(byte[] hash, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO idempotent_responses (key_hash, status, content_type, body, locked_until, created_at)
            VALUES (@hash, NULL, NULL, NULL, now() + @lock, now())
            ON CONFLICT (key_hash) DO UPDATE SET status = NULL, content_type = NULL, body = NULL, locked_until = now() + @lock, created_at = now()
            WHERE idempotent_responses.created_at < now() - @lifetime
               OR (idempotent_responses.status IS NULL AND idempotent_responses.locked_until < now())
            RETURNING 1
            """);
        command.Parameters.AddWithValue("hash", hash);
        command.Parameters.AddWithValue("lock", LockFor);
        command.Parameters.AddWithValue("lifetime", Lifetime);
        return await command.ExecuteScalarAsync(ct) is not null;
    }

    private sealed record Kept(int? Status, string? ContentType, byte[]? Body);

    private async Task<Kept?> ReadAsync(byte[] hash, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT status, content_type, body FROM idempotent_responses WHERE key_hash = @hash");
        command.Parameters.AddWithValue("hash", hash);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }
        return new Kept(
            reader.IsDBNull(0) ? null : reader.GetInt32(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2));
    }

    // Not cancelled with the request: the answer was given, so it is kept (or the key freed) whatever the client does now.
    private async Task KeepAsync(byte[] hash, int status, string? contentType, byte[] body)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE idempotent_responses SET status = @status, content_type = @content_type, body = @body WHERE key_hash = @hash");
        command.Parameters.AddWithValue("hash", hash);
        command.Parameters.AddWithValue("status", status);
        command.Parameters.AddWithValue("content_type", (object?)contentType ?? DBNull.Value);
        command.Parameters.AddWithValue("body", body);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private async Task ReleaseAsync(byte[] hash)
    {
        try
        {
            await using var command = dataSource.CreateCommand("DELETE FROM idempotent_responses WHERE key_hash = @hash AND status IS NULL");
            command.Parameters.AddWithValue("hash", hash);
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (Webhooks.Core.Hosting.DependencyOutage.IsOutage(ex))
        {
            // Postgres is away: the claim expires by itself after LockFor.
            LogReleaseFailed(ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An idempotency key could not be released ({Reason}); it frees itself within 90 s")]
    private partial void LogReleaseFailed(string reason);
}
