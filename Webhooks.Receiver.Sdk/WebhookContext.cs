namespace Webhooks.Receiver.Sdk;

/// <summary>What a handler knows about the webhook it handles, besides its data.</summary>
/// <param name="Id">The <c>webhook-id</c>: the same on every retry of one message, so it is the idempotency key.</param>
/// <param name="Timestamp">The <c>webhook-timestamp</c> of this attempt.</param>
/// <param name="EventType">The event type, the body's <c>type</c>.</param>
/// <param name="HttpContext">The request being handled.</param>
public sealed record WebhookContext(string Id, DateTimeOffset Timestamp, string EventType, HttpContext HttpContext);
