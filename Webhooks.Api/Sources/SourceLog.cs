using Microsoft.EntityFrameworkCore;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Sources;

/// <summary>
/// Writes a source's log: one row per request answered (429s folded, see <see cref="IngestLimits"/>). A log row that
/// cannot be written never changes the answer: the message, when there is one, is already committed.
/// </summary>
internal sealed partial class SourceLog(WebhooksDbContext db, SourceService.Lookup source, TimeProvider time, ILogger logger)
{
    public Task RefusedAsync(int status, string reason, string? deliveryId, long bodyBytes, string? preview, CancellationToken ct) =>
        WriteAsync(new SourceEvent(source.Id, source.ApplicationId, status, SourceEventOutcomes.Refused, reason, Clip(deliveryId), null, null, bodyBytes, preview,
            time.GetUtcNow()), ct);

    public Task AcceptedAsync(bool duplicate, string deliveryId, string eventType, string messageId, long bodyBytes, CancellationToken ct) =>
        WriteAsync(new SourceEvent(source.Id, source.ApplicationId, StatusCodes.Status200OK,
            duplicate ? SourceEventOutcomes.Duplicate : SourceEventOutcomes.Published,
            duplicate ? "Published before under this delivery id: nothing published again." : null,
            deliveryId, eventType, messageId == "" ? null : messageId, bodyBytes, null, time.GetUtcNow()), ct);

    /// <summary>The message this source published before under <paramref name="deliveryId"/> (null if the retention has purged it since).</summary>
    public Task<string?> PublishedBeforeAsync(string deliveryId, CancellationToken ct) =>
        db.Messages.AsNoTracking().Where(m => m.SourceId == source.Id && m.SourceDeliveryId == deliveryId).Select(m => m.Id).FirstOrDefaultAsync(ct);

    private async Task WriteAsync(SourceEvent entry, CancellationToken ct)
    {
        try
        {
            db.SourceEvents.Add(entry);
            await db.SaveChangesAsync(ct);
        }
        catch (Exception ex) when (ex is DbUpdateException or Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            db.ChangeTracker.Clear();
            LogNotWritten(source.Id, entry.Status, ex.Message);
        }
    }

    // A header value may hold anything a sender put there: kept printable and short enough to show.
    private static string? Clip(string? deliveryId) =>
        deliveryId is null ? null : new string(deliveryId.Take(SourceType.MaxDeliveryIdLength).Select(c => char.IsControl(c) ? '\uFFFD' : c).ToArray());

    [LoggerMessage(Level = LogLevel.Warning, Message = "The log entry of a request to source {SourceId} (answered {Status}) was not written: {Reason}")]
    private partial void LogNotWritten(string sourceId, int status, string reason);
}
