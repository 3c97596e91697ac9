using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Webhooks.AppHost.Tests;

/// <summary>
/// The AppHost in Aspire mode, as <c>dotnet run --project AppHost</c> starts it where a container runtime is: Postgres
/// and Redis containers, the API, two workers and the sample receiver, which the AppHost subscribes once the API is ready.
/// </summary>
public sealed class AspireModeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_apphost_starts_and_an_event_published_through_the_api_is_handled_by_the_sample_receiver()
    {
        using var timeout = new CancellationTokenSource(Patience);
        var ct = timeout.Token;
        // Given as parameters, so the test persists nothing in the AppHost's user secrets.
        var adminKey = "wh_admin_apphost_test_" + Guid.NewGuid().ToString("N");
        var keyRingKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [$"Parameters:admin-api-key={adminKey}", $"Parameters:keyring-key={keyRingKey}"], ct);
        // A database of its own: without the data volume a developer's runs keep.
        var postgres = appHost.Resources.Single(r => r.Name == "postgres");
        foreach (var volume in postgres.Annotations.OfType<ContainerMountAnnotation>().ToList())
        {
            postgres.Annotations.Remove(volume);
        }

        await using var app = await appHost.BuildAsync(ct);
        await app.StartAsync(ct);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", ct);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("worker", ct);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("sample-receiver", ct);

        using var api = app.CreateHttpClient("api", "http");
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        // The AppHost subscribes the sample receiver when the API is ready; this waits for that subscription.
        while (!await SampleIsSubscribedAsync(api, ct))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }

        using var published = await api.PostAsJsonAsync("/api/v1/apps/sample/messages",
            new { eventType = "order.created", payload = new { n = 42, note = "from the AppHost test" } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, published.StatusCode);
        var messageId = (await published.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString();

        // The sample receiver's handler logs each order it handles (the backlog is replayed to a new watcher).
        var handledLine = $"Order 42 created (from the AppHost test), webhook {messageId}";
        var sample = appHost.Resources.Single(r => r.Name == "sample-receiver");
        var logs = app.Services.GetRequiredService<ResourceLoggerService>();
        var seen = new List<string>();
        try
        {
            await foreach (var batch in logs.WatchAsync(sample).WithCancellation(ct))
            {
                seen.AddRange(batch.Select(l => l.Content));
                if (batch.Any(l => l.Content.Contains(handledLine, StringComparison.Ordinal)))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"The sample receiver did not log '{handledLine}' within {Patience}. Its log:\n{string.Join('\n', seen)}");
        }

        // And the engine recorded the attempt as the receiver's success.
        var attempts = await api.GetFromJsonAsync<JsonElement>($"/api/v1/apps/sample/messages/{messageId}/attempts", ct);
        Assert.Contains(attempts.GetProperty("data").EnumerateArray(), a => a.GetProperty("succeeded").GetBoolean());
    }

    private static async Task<bool> SampleIsSubscribedAsync(HttpClient api, CancellationToken ct)
    {
        using var response = await api.GetAsync("/api/v1/apps/sample/endpoints", ct);
        return response.IsSuccessStatusCode
            && (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("data").GetArrayLength() > 0;
    }
}
