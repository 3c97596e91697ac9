using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

internal sealed class WebhookReceiverStartupCheck(IOptionsMonitor<WebhookReceiverOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var result = WebhookReceiverOptionsValidator.Validate(options.CurrentValue);
        return result.Failed
            ? throw new OptionsValidationException(Options.DefaultName, typeof(WebhookReceiverOptions), result.Failures)
            : Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
