namespace Webhooks.Receiver.Sdk;

internal sealed record WebhookHandlerRegistration(string EventType, Type HandlerType, WebhookDataBinder Bind);
