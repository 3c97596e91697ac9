using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Webhooks.AppHost.Lifecycle;

/// <summary>What the summary prints, known once the resources have their addresses.</summary>
internal sealed record StackAddresses(
    IResourceBuilder<ProjectResource> Api,
    IResourceBuilder<ProjectResource> SampleReceiver,
    IResourceBuilder<ParameterResource> AdminKey,
    string SampleSecret,
    string? DashboardUrl,
    string? DashboardToken,
    string Infrastructure);

/// <summary>
/// Once the API is healthy, subscribes the sample receiver through the public API (as any client would); once every
/// service is healthy, prints one summary: every URL, the admin key and the Aspire dashboard's login URL.
/// </summary>
internal sealed partial class FirstRun(
    StackAddresses stack,
    ResourceNotificationService notifications,
    ILogger<FirstRun> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Waiting through a crash and its restart: a service that exits before it was ever healthy is restarted, not fatal.
            await notifications.WaitForResourceHealthyAsync(stack.Api.Resource.Name, WaitBehavior.WaitOnResourceUnavailable, stoppingToken);
            var apiUrl = new Uri(stack.Api.GetEndpoint("http").Url);
            var receiverUrl = new Uri(new Uri(stack.SampleReceiver.GetEndpoint("http").Url), "/webhooks");
            var adminKey = await stack.AdminKey.Resource.GetValueAsync(stoppingToken) ?? AppHostDefaults.AdminApiKey;
            var application = await SubscribeAsync(apiUrl, adminKey, receiverUrl, stoppingToken);

            await notifications.WaitForResourceHealthyAsync("worker", WaitBehavior.WaitOnResourceUnavailable, stoppingToken);
            await notifications.WaitForResourceHealthyAsync(stack.SampleReceiver.Resource.Name, WaitBehavior.WaitOnResourceUnavailable, stoppingToken);
            var lines = new List<string>
            {
                "",
                $"  api        {apiUrl}  (OpenAPI: /openapi/v1.json, reference UI: /scalar)",
                $"  console    {apiUrl}dashboard  (sign in with an API key, e.g. the admin key below)",
                $"  sample     {receiverUrl}  (application '{application}', subscribed to order.created)",
                $"  data       Postgres and Redis as {stack.Infrastructure}",
                $"  admin API key: {adminKey}",
            };
            if (stack.DashboardUrl is { } dashboard)
            {
                lines.Add($"  traces     {dashboard}  (Aspire dashboard: traces, logs and metrics of every service)");
                if (stack.DashboardToken is { } token)
                {
                    lines.Add($"  login      {dashboard.TrimEnd('/')}/login?t={token}");
                }
            }
            lines.Add($"  publish    curl -X POST {apiUrl}api/v1/apps/{application}/messages -H 'Authorization: Bearer {adminKey}' " +
                "-H 'Content-Type: application/json' -d '{\"eventType\":\"order.created\",\"payload\":{\"n\":1,\"note\":\"hello\"}}'");
            lines.Add("All services healthy. A service that crashes is restarted; press Ctrl+C to stop everything.");
            lines.Add("");
            Console.Out.WriteLine(string.Join(Environment.NewLine, lines));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Never fatal: a failed background service would stop the whole AppHost.
            LogFirstRunFailed(ex, ex.Message);
        }
    }

    /// <summary>The API answers 503 while it is still migrating or Redis is settling: a few tries, then the error.</summary>
    private async Task<string> SubscribeAsync(Uri apiUrl, string adminKey, Uri receiverUrl, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await SampleSubscription.EnsureAsync(apiUrl, adminKey, receiverUrl, stack.SampleSecret, ct);
            }
            catch (HttpRequestException) when (attempt < 10)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The first-run set-up failed: {Reason}")]
    private partial void LogFirstRunFailed(Exception ex, string reason);
}
