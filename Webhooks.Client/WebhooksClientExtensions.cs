using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Refit;

namespace Webhooks.Client;

public static class WebhooksClientExtensions
{
    /// <summary>Registers <see cref="IWebhooksApi"/> against <paramref name="baseUrl"/>, authenticated with <paramref name="apiKey"/>.</summary>
    public static IHttpClientBuilder AddWebhooksClient(this IServiceCollection services, Uri baseUrl, string apiKey) =>
        services.AddRefitClient<IWebhooksApi>()
            .ConfigureHttpClient(http =>
            {
                http.BaseAddress = baseUrl;
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            });

    /// <summary>A client without dependency injection.</summary>
    public static IWebhooksApi Create(Uri baseUrl, string apiKey)
    {
        var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return RestService.For<IWebhooksApi>(http);
    }
}
