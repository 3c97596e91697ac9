using System.Text;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Webhooks.Client;
using Webhooks.Core.Data;

namespace Webhooks.Api.Sources;

/// <summary>
/// Writes a source's log: an entry per answer (refusals folded under a flood, see <see cref="IngestLimits"/>). An entry
/// that cannot be written never changes the answer — the message, when there is one, is already committed — and never
/// holds it up for long: one plain insert, without EF's retries, given two seconds.
/// </summary>
internal sealed partial class SourceLog(NpgsqlDataSource dataSource, SourceService.Lookup source, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    public Task RefusedAsync(int status, string reason, string? deliveryId, long bodyBytes, string? preview) =>
        WriteAsync(status, SourceEventOutcomes.Refused, reason, deliveryId, null, null, bodyBytes, preview);

    public Task AcceptedAsync(bool duplicate, string deliveryId, string eventType, string? messageId, long bodyBytes) =>
        WriteAsync(StatusCodes.Status200OK, duplicate ? SourceEventOutcomes.Duplicate : SourceEventOutcomes.Published,
            duplicate ? "Published before under this delivery id: nothing published again." : null, deliveryId, eventType, messageId, bodyBytes, null);

    /// <summary>The message this source published before under <paramref name="deliveryId"/>; null if it cannot be told now (purged, or the database is away).</summary>
    public async Task<string?> PublishedBeforeAsync(WebhooksDbContext db, string deliveryId)
    {
        using var budget = new CancellationTokenSource(Budget);
        try
        {
            return await db.Messages.AsNoTracking().Where(m => m.SourceId == source.Id && m.SourceDeliveryId == deliveryId).Select(m => m.Id)
                .FirstOrDefaultAsync(budget.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogNotWritten(source.Id, StatusCodes.Status200OK, ex.Message);
            return null;
        }
    }

    private async Task WriteAsync(int status, string outcome, string? reason, string? deliveryId, string? eventType, string? messageId, long bodyBytes,
        string? preview)
    {
        using var budget = new CancellationTokenSource(Budget);
        try
        {
            await using var command = dataSource.CreateCommand("""
                INSERT INTO source_events (source_id, application_id, status, outcome, reason, delivery_id, event_type, message_id, body_bytes, preview, received_at)
                VALUES (@source, @application, @status, @outcome, @reason, @delivery, @event_type, @message, @bytes, @preview, @at)
                """);
            command.Parameters.AddWithValue("source", source.Id);
            command.Parameters.AddWithValue("application", source.ApplicationId);
            command.Parameters.AddWithValue("status", status);
            command.Parameters.AddWithValue("outcome", outcome);
            command.Parameters.AddWithValue("reason", (object?)reason ?? DBNull.Value);
            command.Parameters.AddWithValue("delivery", (object?)Printable(deliveryId, SourceType.MaxDeliveryIdLength) ?? DBNull.Value);
            command.Parameters.AddWithValue("event_type", (object?)eventType ?? DBNull.Value);
            command.Parameters.AddWithValue("message", (object?)messageId ?? DBNull.Value);
            command.Parameters.AddWithValue("bytes", bodyBytes);
            command.Parameters.AddWithValue("preview", (object?)preview ?? DBNull.Value);
            command.Parameters.AddWithValue("at", time.GetUtcNow().AtStoragePrecision());
            await command.ExecuteNonQueryAsync(budget.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogNotWritten(source.Id, status, ex.Message);
        }
    }

    /// <summary>
    /// At most <paramref name="length"/> characters of a value a sender chose, fit to show and to store: whole characters
    /// (a cut never splits a surrogate pair), control characters and unpaired surrogates replaced.
    /// </summary>
    public static string? Printable(string? value, int length)
    {
        if (value is null)
        {
            return null;
        }
        var builder = new StringBuilder(Math.Min(value.Length, length + 1));
        var i = 0;
        while (i < value.Length)
        {
            var rune = Rune.DecodeFromUtf16(value.AsSpan(i), out var decoded, out var consumed) == System.Buffers.OperationStatus.Done
                ? decoded
                : Rune.ReplacementChar;
            i += consumed;
            if (builder.Length + rune.Utf16SequenceLength > length)
            {
                builder.Append('…');
                break;
            }
            builder.Append(Rune.IsControl(rune) ? Rune.ReplacementChar.ToString() : rune.ToString());
        }
        return builder.ToString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The log entry of a request to source {SourceId} (answered {Status}) was not written: {Reason}")]
    private partial void LogNotWritten(string sourceId, int status, string reason);
}
