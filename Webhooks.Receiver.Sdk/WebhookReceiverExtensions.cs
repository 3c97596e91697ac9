using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

/// <summary>Adds and maps a Standard Webhooks receiver.</summary>
public static class WebhookReceiverExtensions
{
    /// <summary>
    /// Adds the receiver. Options bind from the <c>Webhooks:Receiver</c> configuration section (and follow its
    /// reloads), then <paramref name="configure"/> runs. Malformed secrets fail at start, naming the setting.
    /// </summary>
    public static WebhookReceiverBuilder AddWebhookReceiver(this IServiceCollection services, Action<WebhookReceiverOptions>? configure = null)
    {
        var options = services.AddOptions<WebhookReceiverOptions>().BindConfiguration(WebhookReceiverOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        // Checked at start (a malformed secret stops the app, naming the setting); later reloads are checked by
        // the receiver, which keeps the last valid settings rather than failing requests. (An IValidateOptions
        // would make a bad reload throw inside the configuration's change callback instead.)
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WebhookReceiverStartupCheck>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<InMemoryReplayStoreOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InMemoryReplayStoreOptions>, InMemoryReplayStoreOptionsValidator>());
        services.TryAddSingleton<IWebhookReplayStore, InMemoryReplayStore>();
        services.TryAddSingleton(sp => new WebhookReceiver(
            sp.GetRequiredService<IOptionsMonitor<WebhookReceiverOptions>>(),
            sp.GetRequiredService<IWebhookReplayStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WebhookReceiver>>(),
            sp.GetServices<WebhookHandlerRegistration>()));
        return new WebhookReceiverBuilder(services);
    }

    /// <summary>Maps <c>POST {pattern}</c> to the receiver. The returned builder takes the usual conventions.</summary>
    public static RouteHandlerBuilder MapWebhookReceiver(this IEndpointRouteBuilder endpoints, string pattern)
    {
        return endpoints
            .MapPost(pattern, (HttpContext context, WebhookReceiver receiver) => receiver.HandleAsync(context))
            .WithName("WebhookReceiver:" + pattern)
            .ExcludeFromDescription();
    }

    /// <summary>The middleware form: handles <c>POST</c> requests to <paramref name="path"/>, passes on the rest.</summary>
    public static IApplicationBuilder UseWebhookReceiver(this IApplicationBuilder app, PathString path)
    {
        return app.Use(async (context, next) =>
        {
            if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(path, StringComparison.OrdinalIgnoreCase))
            {
                await context.RequestServices.GetRequiredService<WebhookReceiver>().HandleAsync(context).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });
    }
}
