using System.Text.Json;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Webhooks.Core.Data;

/// <summary>The unit of work over the webhooks database. Tables and columns are snake_case.</summary>
public sealed class WebhooksDbContext(DbContextOptions<WebhooksDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>The API's ASP.NET Core data protection keys (dashboard cookies, antiforgery): shared by every API instance, kept across restarts.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<Application> Applications => Set<Application>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<PortalLink> PortalLinks => Set<PortalLink>();
    public DbSet<EventType> EventTypes => Set<EventType>();
    public DbSet<Endpoint> Endpoints => Set<Endpoint>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<IdempotentResponse> IdempotentResponses => Set<IdempotentResponse>();
    public DbSet<Delivery> Deliveries => Set<Delivery>();
    public DbSet<DeliveryAttempt> DeliveryAttempts => Set<DeliveryAttempt>();
    public DbSet<EndpointEvent> EndpointEvents => Set<EndpointEvent>();
    public DbSet<OrderingHead> OrderingHeads => Set<OrderingHead>();
    public DbSet<Source> Sources => Set<Source>();
    public DbSet<SourceEvent> SourceEvents => Set<SourceEvent>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DeliveryStatus>().HaveConversion<SnakeCaseEnumConverter<DeliveryStatus>>();
        configurationBuilder.Properties<AttemptTrigger>().HaveConversion<SnakeCaseEnumConverter<AttemptTrigger>>();
        configurationBuilder.Properties<DeliveryOrdering>().HaveConversion<SnakeCaseEnumConverter<DeliveryOrdering>>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDbFunction(typeof(PayloadSearch).GetMethod(nameof(PayloadSearch.Matches))!).HasName(PayloadSearch.FunctionName);
        modelBuilder.Entity<Application>(e =>
        {
            e.HasIndex(a => a.Uid).IsUnique().HasFilter("uid IS NOT NULL");
            e.Property(a => a.Metadata).HasColumnType("jsonb").HasConversion(JsonConversion.Dictionary, JsonConversion.DictionaryComparer)
                .HasDefaultValueSql("'{}'::jsonb");
            e.Property(a => a.PortalFrameAncestors).HasDefaultValueSql("'{}'::text[]");
            // A deleted application is gone for every query; only the purge (raw SQL) still sees it.
            e.HasQueryFilter(a => a.DeletedAt == null);
        });

        modelBuilder.Entity<ApiKey>(e =>
        {
            e.HasIndex(k => k.KeyHash).IsUnique();
            e.HasOne<Application>().WithMany().HasForeignKey(k => k.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<PortalLink>(e =>
        {
            e.HasIndex(l => l.TokenHash).IsUnique();
            e.HasIndex(l => new { l.ApplicationId, l.Id });
            e.HasOne<Application>().WithMany().HasForeignKey(l => l.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<EventType>(e =>
        {
            // NULLS NOT DISTINCT: one deployment-wide event type (no application) per name, too.
            e.HasIndex(t => new { t.ApplicationId, t.Name }).IsUnique().AreNullsDistinct(false);
            e.Property(t => t.Schema).HasColumnType("jsonb");
            e.Property(t => t.Schemas).HasColumnType("jsonb");
            e.HasOne<Application>().WithMany().HasForeignKey(t => t.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Endpoint>(e =>
        {
            e.HasIndex(p => p.ApplicationId);
            e.HasIndex(p => new { p.ApplicationId, p.Uid }).IsUnique().HasFilter("uid IS NOT NULL");
            // The worker's probe promotion: circuits whose cool-down has passed (only open circuits are in it).
            e.HasIndex(p => p.CircuitRetryAt).HasDatabaseName("ix_endpoints_circuit_retry_at").HasFilter("circuit_retry_at IS NOT NULL");
            e.Ignore(p => p.CircuitState);
            e.Property(p => p.Format).HasMaxLength(16).HasDefaultValue("standard");
            e.HasQueryFilter(p => p.DeletedAt == null);
            e.Property(p => p.Headers).HasColumnType("jsonb").HasConversion(JsonConversion.Dictionary, JsonConversion.DictionaryComparer);
            e.Property(p => p.Metadata).HasColumnType("jsonb").HasConversion(JsonConversion.Dictionary, JsonConversion.DictionaryComparer);
            e.Property(p => p.Filter).HasColumnType("jsonb");
            // Parsed once, on save: the fan-out evaluates it against each payload without parsing the path again.
            e.Property(p => p.FilterPath).HasColumnType("jsonpath");
            e.HasOne<Application>().WithMany().HasForeignKey(p => p.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Message>(e =>
        {
            // The text as published (not jsonb, which reorders keys and respaces): delivered byte for byte.
            // Listing an application's messages newest first, by cursor.
            e.HasIndex(m => new { m.ApplicationId, m.Id });
            e.HasIndex(m => new { m.ApplicationId, m.EventType, m.Id });
            e.HasIndex(m => new { m.ApplicationId, m.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL");
            e.HasIndex(m => new { m.ApplicationId, m.EventId }).IsUnique().HasFilter("event_id IS NOT NULL").HasDatabaseName(Message.EventIdIndex);
            e.HasIndex(m => m.CreatedAt);
            // A sender's retry of a delivery already published (same source, same delivery id) breaks it: published once.
            e.HasIndex(m => new { m.SourceId, m.SourceDeliveryId }).IsUnique().HasFilter("source_id IS NOT NULL").HasDatabaseName(Message.SourceDeliveryIndex);
            // The database default serves raw inserts (operational events); EF always writes the value it holds.
            e.Property(m => m.Priority).HasDefaultValue(Message.DefaultPriority).HasSentinel((short)-1);
            e.HasOne<Application>().WithMany().HasForeignKey(m => m.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Delivery>(e =>
        {
            e.Property(d => d.Id).UseIdentityAlwaysColumn();
            e.HasIndex(d => new { d.MessageId, d.EndpointId }).IsUnique();
            e.HasIndex(d => new { d.EndpointId, d.Id });
            // The dashboard's 'deliveries of the last 24 h'; created_at never changes, so updates stay HOT-eligible.
            e.HasIndex(d => d.CreatedAt);
            e.Property(d => d.Priority).HasDefaultValue(Message.DefaultPriority).HasSentinel((short)-1);
            // The claim reads only due rows, in DeliveryLifecycle.ClaimOrder: the partial expression index ix_deliveries_due
            // on that order (created by the Priority migration in SQL: EF cannot model an expression index) keeps it
            // O(batch) with millions finished.
            e.HasIndex(d => d.LeaseExpiresAt).HasDatabaseName("ix_deliveries_leased").HasFilter("status = 'in_flight'");
            // An open circuit's held deliveries: the probe and the release on close read only these, never the endpoint's history.
            e.HasIndex(d => new { d.EndpointId, d.HeldDueAt }).HasDatabaseName("ix_deliveries_held").HasFilter("held_due_at IS NOT NULL");
            // A fifo key's unfinished deliveries in sequence: the next one to promote is the first.
            e.HasIndex(d => new { d.EndpointId, d.OrderingKey, d.OrderingSeq }).HasDatabaseName("ix_deliveries_ordering")
                .HasFilter("ordering_seq IS NOT NULL AND status IN ('pending', 'in_flight', 'failed')");
            e.HasOne<Message>().WithMany().HasForeignKey(d => d.MessageId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<Endpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<OrderingHead>(e =>
        {
            e.HasKey(h => new { h.EndpointId, h.OrderingKey });
            e.HasOne<Endpoint>().WithMany().HasForeignKey(h => h.EndpointId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<EndpointEvent>(e =>
        {
            e.Property(v => v.Id).UseIdentityAlwaysColumn();
            e.Property(v => v.Data).HasColumnType("jsonb");
            // An endpoint's history, newest first; the operational webhooks of the events a record transaction wrote.
            e.HasIndex(v => new { v.EndpointId, v.Id });
            e.HasIndex(v => v.CreatedAt);
            e.HasOne<Endpoint>().WithMany().HasForeignKey(v => v.EndpointId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Source>(e =>
        {
            e.HasIndex(s => s.IngestToken).IsUnique();
            e.HasIndex(s => new { s.ApplicationId, s.Id });
            e.HasOne<Application>().WithMany().HasForeignKey(s => s.ApplicationId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SourceEvent>(e =>
        {
            e.Property(v => v.Id).UseIdentityAlwaysColumn();
            // A source's log, newest first, whole or of one outcome (a flood of refusals does not slow the list of what was published);
            // the retention job's purge by age.
            e.HasIndex(v => new { v.SourceId, v.Id });
            e.HasIndex(v => new { v.SourceId, v.Outcome, v.Id });
            e.HasIndex(v => v.ReceivedAt);
            e.HasOne<Source>().WithMany().HasForeignKey(v => v.SourceId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<IdempotentResponse>(e =>
        {
            e.HasKey(r => r.KeyHash);
            e.HasIndex(r => r.CreatedAt);
        });

        modelBuilder.Entity<DeliveryAttempt>(e =>
        {
            e.Property(a => a.RequestHeaders).HasColumnType("jsonb").HasConversion(JsonConversion.NullableDictionary, JsonConversion.NullableDictionaryComparer);
            e.Property(a => a.ResponseHeaders).HasColumnType("jsonb").HasConversion(JsonConversion.NullableDictionary, JsonConversion.NullableDictionaryComparer);
            e.HasIndex(a => new { a.MessageId, a.Id });
            e.HasIndex(a => new { a.EndpointId, a.Id });
            e.HasIndex(a => a.StartedAt);
            e.HasOne<Delivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}

/// <summary>Stores enum values as snake_case text (<c>in_flight</c>), readable in psql and in raw SQL.</summary>
public sealed class SnakeCaseEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
    v => SnakeCase.Of(v.ToString()),
    v => SnakeCase.Parse<TEnum>(v))
    where TEnum : struct, Enum;

public static class SnakeCase
{
    public static string Of(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }

    public static string Of<TEnum>(TEnum value) where TEnum : struct, Enum => Of(value.ToString());

    /// <summary>The enum value a snake_case name stands for (<c>in_flight</c> → InFlight).</summary>
    public static TEnum Parse<TEnum>(string name) where TEnum : struct, Enum => Enum.Parse<TEnum>(name.Replace("_", ""), ignoreCase: true);
}

internal static class JsonConversion
{
    public static readonly ValueConverter<Dictionary<string, string>, string> Dictionary = new(
        v => JsonSerializer.Serialize(v, (JsonSerializerOptions?)null),
        v => JsonSerializer.Deserialize<Dictionary<string, string>>(v, (JsonSerializerOptions?)null) ?? new Dictionary<string, string>());

    public static readonly ValueConverter<Dictionary<string, string>?, string?> NullableDictionary = new(
        v => v == null ? null : JsonSerializer.Serialize(v, (JsonSerializerOptions?)null),
        v => v == null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(v, (JsonSerializerOptions?)null));

    public static readonly ValueComparer<Dictionary<string, string>> DictionaryComparer = new(
        (a, b) => a!.Count == b!.Count && !a.Except(b).Any(),
        v => v.Aggregate(0, (h, kv) => HashCode.Combine(h, kv.Key, kv.Value)),
        v => new Dictionary<string, string>(v));

    public static readonly ValueComparer<Dictionary<string, string>?> NullableDictionaryComparer = new(
        (a, b) => a == null ? b == null : b != null && a.Count == b.Count && !a.Except(b).Any(),
        v => v == null ? 0 : v.Aggregate(0, (h, kv) => HashCode.Combine(h, kv.Key, kv.Value)),
        v => v == null ? null : new Dictionary<string, string>(v));
}
