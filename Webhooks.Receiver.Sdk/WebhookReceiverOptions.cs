namespace Webhooks.Receiver.Sdk;

/// <summary>Settings of a webhook receiver, bound from <c>Webhooks:Receiver</c> when configuration is present.</summary>
public sealed class WebhookReceiverOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Webhooks:Receiver";

    /// <summary>Signing secrets (<c>whsec_…</c>); a request signed with any of them is accepted.</summary>
    public IList<string> Secrets { get; } = [];

    /// <summary>How far the <c>webhook-timestamp</c> may lie from now, in either direction. Default 300.</summary>
    public int ToleranceSeconds { get; set; } = 300;

    /// <summary>
    /// Largest body accepted, at most 1 GiB. A request declaring a larger <c>Content-Length</c> is refused with 413
    /// before its body is read; a chunked one as soon as more arrived. Default 1 MiB.
    /// </summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Status answered for a verified event type that has no handler: a 2xx, so the sender stops (as Svix and
    /// Standard Webhooks advise; unsubscribe the endpoint from types it does not want). Default 204.
    /// </summary>
    public int UnknownEventTypeStatusCode { get; set; } = StatusCodes.Status204NoContent;

    /// <summary>
    /// Also accept bodies that are the payload itself rather than the <c>{"type", "timestamp", "data"}</c> envelope, as
    /// Svix sends them (and as the platform sends the messages created through its Svix API): the event type is the
    /// body's own <c>type</c>, and the handler's data is the whole body. A body with both <c>type</c> and <c>data</c>
    /// is still read as an envelope. Default false: such a body is refused as malformed.
    /// </summary>
    public bool AcceptUnwrappedBodies { get; set; }
}
