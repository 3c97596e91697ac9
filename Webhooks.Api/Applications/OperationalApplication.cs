using System.ComponentModel.DataAnnotations;

namespace Webhooks.Api.Applications;

/// <summary>
/// The operational application, named by the uid the worker reads (<c>Webhooks:Delivery:OperationalApplicationUid</c>):
/// it receives every tenant's <c>endpoint.disabled</c> and <c>message.attempt.exhausted</c> events, with their ids and
/// URLs. So its uid is reserved: only an admin key creates, changes or deletes the application that holds it, and no
/// application key ever takes it (compared trimmed and case-insensitively, so a look-alike cannot be claimed either).
/// </summary>
public sealed class OperationalApplicationOptions
{
    public const string SectionName = "Webhooks:Delivery";

    /// <summary>The reserved uid; empty when the platform sends no operational webhooks (nothing is reserved then).</summary>
    [MaxLength(256)]
    public string OperationalApplicationUid { get; set; } = "operational";

    public bool IsReserved(string? uid) =>
        uid is not null && !string.IsNullOrWhiteSpace(OperationalApplicationUid) &&
        string.Equals(uid.Trim(), OperationalApplicationUid.Trim(), StringComparison.OrdinalIgnoreCase);
}
