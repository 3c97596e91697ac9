// The receiver SDK's quick start as a running app. The signing secret comes from configuration
// (Webhooks:Receiver:Secrets:0, or the environment variable Webhooks__Receiver__Secrets__0).
using Webhooks.Receiver.Sdk;

var builder = WebApplication.CreateBuilder(args);

// Aspire's service defaults: traces (the receiver's own spans included), logs and metrics to the dashboard, /health.
builder.AddServiceDefaults();
builder.AddTelemetrySources(WebhookReceiverTelemetry.ActivitySourceName);

builder.Services.AddWebhookReceiver()
    .AddHandler<OrderCreated, OrderCreatedHandler>("order.created");

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWebhookReceiver("/webhooks");
app.MapGet("/", () => "Webhooks sample receiver: POST /webhooks (order.created)");

app.Run();

public record OrderCreated(int N, string? Note);

public partial class OrderCreatedHandler(ILogger<OrderCreatedHandler> logger) : IWebhookHandler<OrderCreated>
{
    public Task HandleAsync(OrderCreated data, WebhookContext context, CancellationToken ct)
    {
        LogOrder(context.Id, data.N, data.Note);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {N} created ({Note}), webhook {WebhookId}")]
    private partial void LogOrder(string webhookId, int n, string? note);
}
