namespace Webhooks.Receiver.Sdk;

internal delegate Task WebhookHandlerCall(IServiceProvider services, WebhookContext context, CancellationToken cancellationToken);
