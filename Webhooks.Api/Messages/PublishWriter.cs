using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Core.Hosting;

namespace Webhooks.Api.Messages;

/// <summary>
/// Writes published messages and their deliveries to Postgres, committed before the publish is answered. Single publishes
/// arriving together are written together: each of <see cref="PublishOptions.PublishWriters"/> writers takes every
/// publish waiting (up to <see cref="MaxMessagesPerWrite"/> messages) into one statement and one commit, so under load
/// Postgres runs one statement per group instead of one per message, and at low load a publish is written at once by an
/// idle writer (no timer, no added wait). Each publish is still answered only once its own message is committed.
/// <para>
/// Only single publishes without an idempotency key are grouped (a concurrent publish of the same key could make one fail).
/// A group's statement that fails for a reason of its own data (or a deadlock) is written again publish by publish, so
/// one publish's failure is never another's; a publish whose caller went away meanwhile is then not written. An outage
/// fails the group (each caller answers 503, as alone).
/// </para>
/// </summary>
public sealed partial class PublishWriter : IAsyncDisposable
{
    /// <summary>The most messages one statement writes (a full batch publish is written alone).</summary>
    public const int MaxMessagesPerWrite = 500;

    private readonly NpgsqlDataSource _dataSource;
    private readonly DispatchSignal _signal;
    private readonly ILogger<PublishWriter> _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _writers;

    private sealed record Pending(IReadOnlyList<Message> Messages, TaskCompletionSource Written, CancellationToken Aborted);

    public PublishWriter(NpgsqlDataSource dataSource, DispatchSignal signal, IOptions<PublishOptions> options, ILogger<PublishWriter> logger)
    {
        _dataSource = dataSource;
        _signal = signal;
        _logger = logger;
        // Not in the execution context of the request that happened to create this (its trace and logging scope).
        using (ExecutionContext.SuppressFlow())
        {
            _writers = Enumerable.Range(0, Math.Max(1, options.Value.PublishWriters)).Select(_ => Task.Run(WriteLoopAsync)).ToArray();
        }
    }

    /// <summary>Writes <paramref name="messages"/> with whatever other publishes are waiting; returns once they are committed.</summary>
    public Task WriteAsync(IReadOnlyList<Message> messages, CancellationToken ct)
    {
        var pending = new Pending(messages, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), ct);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);
        // Its failure is observed even when its caller stopped waiting (aborted or timed out).
        _ = pending.Written.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return pending.Written.Task.WaitAsync(ct);
    }

    /// <summary>Writes <paramref name="messages"/> in a statement of their own (all or nothing); returns once committed.</summary>
    public async Task WriteNowAsync(IReadOnlyList<Message> messages, CancellationToken ct)
    {
        await InsertAsync(messages, ct);
        await _signal.NotifyAsync();
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Pending>();
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                group.Clear();
                var count = 0;
                while (count < MaxMessagesPerWrite && reader.TryRead(out var pending))
                {
                    // A publish whose caller went away before it was written is not written.
                    if (pending.Aborted.IsCancellationRequested)
                    {
                        pending.Written.TrySetCanceled(pending.Aborted);
                        continue;
                    }
                    group.Add(pending);
                    count += pending.Messages.Count;
                }
                if (group.Count > 0)
                {
                    try
                    {
                        await WriteGroupAsync(group);
                    }
                    catch (Exception ex)
                    {
                        // Never ends the loop (every later publish would wait for nothing); each publish of the group is answered.
                        LogWriterFailed(ex);
                        group.ForEach(p => p.Written.TrySetException(ex));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task WriteGroupAsync(List<Pending> group)
    {
        try
        {
            await InsertAsync(group.Count == 1 ? group[0].Messages : group.SelectMany(p => p.Messages).ToList(), CancellationToken.None);
            group.ForEach(p => p.Written.TrySetResult());
        }
        catch (Exception ex) when (group.Count > 1 && (!DependencyOutage.IsOutage(ex) || ex is PostgresException { SqlState: "40P01" or "40001" }))
        {
            // Something in one publish's data (or a deadlock): each is written on its own, and only that one fails. The
            // group rolled back, so a publish whose caller went away meanwhile (answered 503) is not written at all.
            LogGroupSplit(group.Count, ex.Message);
            foreach (var pending in group)
            {
                if (pending.Aborted.IsCancellationRequested)
                {
                    pending.Written.TrySetCanceled(pending.Aborted);
                    continue;
                }
                try
                {
                    await InsertAsync(pending.Messages, CancellationToken.None);
                    pending.Written.TrySetResult();
                }
                catch (Exception own)
                {
                    pending.Written.TrySetException(own);
                }
            }
        }
        catch (Exception ex)
        {
            group.ForEach(p => p.Written.TrySetException(ex));
            return;
        }
        await _signal.NotifyAsync();
    }

    // The messages and their deliveries in one statement (so one transaction, one round trip), fanned out by the one
    // subscription rule and the endpoints' payload filters; a disabled endpoint's delivery is parked until it is enabled;
    // deleted endpoints get none. The payload is stored as the text that was published, so it is delivered byte for byte;
    // the filters see it parsed to jsonb, once per message. Messages may be of several applications.
    private static readonly string InsertSql = $"""
        WITH input AS (
            SELECT * FROM unnest(@ids, @apps, @event_types, @payloads, @channels, @keys, @traces, @priorities, @ordering_keys, @created, @event_ids, @raw, @source_ids, @source_delivery_ids)
                WITH ORDINALITY
                AS u(id, application_id, event_type, payload, channels, idempotency_key, trace_parent, priority, ordering_key, created_at, event_id, raw,
                     source_id, source_delivery_id, ord)
        ), inserted AS (
            INSERT INTO messages (id, application_id, event_type, payload, channels, idempotency_key, trace_parent, priority, ordering_key, created_at,
                                  event_id, raw, source_id, source_delivery_id)
            SELECT id, application_id, event_type, payload, ARRAY(SELECT jsonb_array_elements_text(channels::jsonb)), idempotency_key, trace_parent,
                   priority, ordering_key, created_at, event_id, raw, source_id, source_delivery_id
            FROM input
            RETURNING id, application_id, event_type, channels, priority, ordering_key
        ), published AS MATERIALIZED (
            SELECT ins.*, i.ord, {DeliveryLifecycle.PayloadJson("i.payload", "i.application_id")} AS payload_json
            FROM inserted ins JOIN input i ON i.id = ins.id
        ),
        {DeliveryLifecycle.FanOut("published")}
        """;

    private async Task InsertAsync(IReadOnlyList<Message> messages, CancellationToken ct)
    {
        static object?[] Nullable(IEnumerable<string?> values) => values.Select(v => (object?)v ?? DBNull.Value).ToArray();
        await using var command = _dataSource.CreateCommand(InsertSql);
        command.Parameters.AddWithValue("ids", messages.Select(m => m.Id).ToArray());
        command.Parameters.AddWithValue("apps", messages.Select(m => m.ApplicationId).ToArray());
        command.Parameters.AddWithValue("event_types", messages.Select(m => m.EventType).ToArray());
        command.Parameters.AddWithValue("payloads", messages.Select(m => m.Payload).ToArray());
        command.Parameters.AddWithValue("channels", messages.Select(m => JsonSerializer.Serialize(m.Channels)).ToArray());
        command.Parameters.AddWithValue("keys", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Nullable(messages.Select(m => m.IdempotencyKey)));
        command.Parameters.AddWithValue("traces", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Nullable(messages.Select(m => m.TraceParent)));
        command.Parameters.AddWithValue("priorities", messages.Select(m => m.Priority).ToArray());
        command.Parameters.AddWithValue("ordering_keys", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Nullable(messages.Select(m => m.OrderingKey)));
        // The microsecond-precision instants the returned messages carry.
        command.Parameters.AddWithValue("created", messages.Select(m => m.CreatedAt.AtStoragePrecision()).ToArray());
        command.Parameters.AddWithValue("event_ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Nullable(messages.Select(m => m.EventId)));
        command.Parameters.AddWithValue("raw", messages.Select(m => m.Raw).ToArray());
        command.Parameters.AddWithValue("source_ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Nullable(messages.Select(m => m.SourceId)));
        command.Parameters.AddWithValue("source_delivery_ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text,
            Nullable(messages.Select(m => m.SourceDeliveryId)));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        // Publishes already waiting are written before the process goes (each is answered only once committed).
        await Task.WhenAll(_writers).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        // Not disposed: a writer stuck past the wait may still read its token.
        await _stopping.CancelAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Writing a group of publishes failed unexpectedly; its publishes are answered with the error")]
    private partial void LogWriterFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A group of {Count} publishes failed as one ({Reason}); writing each on its own")]
    private partial void LogGroupSplit(int count, string reason);
}
