using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebhooksData();
builder.AddWebhooksApi();
builder.AddWebhooksDashboard();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseNulGuard();
app.UseRequestTimeouts();
app.UseOutageRecovery();
app.UseAuthentication();
app.UseAuthorization();
app.UseMiddleware<Webhooks.Api.Svix.SvixIdempotency>();

app.MapDefaultEndpoints();
app.MapWebhooksApi();
app.MapWebhooksDashboard();
app.MapGet("/", () => Results.Redirect("/dashboard")).ExcludeFromDescription();

app.RunService();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
