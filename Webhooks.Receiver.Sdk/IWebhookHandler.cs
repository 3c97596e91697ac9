namespace Webhooks.Receiver.Sdk;

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
