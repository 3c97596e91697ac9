namespace Webhooks.Receiver.Sdk;

/// <summary>What a handler knows about the webhook it handles, besides its data.</summary>
/// <param name="Id">The <c>webhook-id</c>: the same on every retry of one message, so it is the idempotency key.</param>
/// <param name="Timestamp">The <c>webhook-timestamp</c> of this attempt.</param>
/// <param name="EventType">The event type, the body's <c>type</c>.</param>
/// <param name="HttpContext">The request being handled.</param>
public sealed record WebhookContext(string Id, DateTimeOffset Timestamp, string EventType, HttpContext HttpContext);

/// <summary>Handles one event type. Resolved from the request's DI scope, so it may depend on scoped services.</summary>
/// <typeparam name="TEvent">The type the body's <c>data</c> is deserialized into.</typeparam>
public interface IWebhookHandler<in TEvent>
{
    /// <summary>
    /// Handles one verified webhook. Throwing anything answers 500 and leaves the webhook unhandled, so the sender's
    /// retry runs the handler again. <paramref name="cancellationToken"/> is cancelled when the sender disconnects.
    /// </summary>
    Task HandleAsync(TEvent data, WebhookContext context, CancellationToken cancellationToken);
}
