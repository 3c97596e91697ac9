using System.Text.Json;

namespace Webhooks.Receiver.Sdk;

/// <summary>Deserializes <c>data</c> (throwing <see cref="JsonException"/> when it does not fit) into a call of the handler.</summary>
internal delegate WebhookHandlerCall WebhookDataBinder(JsonElement data, JsonSerializerOptions json);
