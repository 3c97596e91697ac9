using Webhooks.Worker.Dispatch;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebhooksData();
builder.AddDeliveryEngine();

var app = builder.Build();

app.MapDefaultEndpoints();

app.RunService();
