using System.Diagnostics;

namespace Webhooks.Receiver.Sdk;

/// <summary>
/// The receiver's spans: <c>webhook verify</c> (signature, timestamp, replay) and <c>webhook handle</c> (the typed handler),
/// children of the ASP.NET Core request span, so they join the sender's trace through its <c>traceparent</c>.
/// Add <see cref="ActivitySourceName"/> to your OpenTelemetry tracing to export them.
/// </summary>
public static class WebhookReceiverTelemetry
{
    /// <summary>The name of the receiver's <see cref="ActivitySource"/>.</summary>
    public const string ActivitySourceName = "Webhooks.Receiver";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
}
