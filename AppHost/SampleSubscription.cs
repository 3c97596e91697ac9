using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Webhooks.AppHost;

/// <summary>
/// Makes sure the sample receiver is subscribed, through the public API like any client would:
/// an application with uid 'sample' and an endpoint for <c>order.created</c> at the sample's URL.
/// </summary>
internal static class SampleSubscription
{
    public const string Uid = "sample";

    public static async Task<string> EnsureAsync(Uri api, string adminKey, Uri receiver, string secret, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = new Uri(api, "/api/v1/") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);

        using var found = await http.GetAsync($"apps/{Uid}", ct);
        if (found.StatusCode == HttpStatusCode.NotFound)
        {
            using var created = await http.PostAsJsonAsync("apps", new { name = "Sample receiver", uid = Uid }, ct);
            created.EnsureSuccessStatusCode();
        }
        else
        {
            found.EnsureSuccessStatusCode();
        }

        var endpoints = await http.GetFromJsonAsync<JsonElement>($"apps/{Uid}/endpoints?limit=250", ct);
        var subscribed = endpoints.GetProperty("data").EnumerateArray().Any(e => e.GetProperty("url").GetString() == receiver.ToString());
        if (!subscribed)
        {
            using var endpoint = await http.PostAsJsonAsync($"apps/{Uid}/endpoints",
                new { url = receiver.ToString(), eventTypes = new[] { "order.created" }, secret, description = "The SDK sample receiver" }, ct);
            endpoint.EnsureSuccessStatusCode();
        }
        return Uid;
    }
}
