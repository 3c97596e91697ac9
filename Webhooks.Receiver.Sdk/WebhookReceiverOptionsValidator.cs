using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

internal static class WebhookReceiverOptionsValidator
{
    public const long MaxBodyBytesLimit = 1L << 30;

    public static ValidateOptionsResult Validate(WebhookReceiverOptions options)
    {
        var failures = new List<string>();
        if (options.Secrets.Count == 0)
        {
            failures.Add($"{WebhookReceiverOptions.SectionName}:Secrets is empty: add at least one 'whsec_…' signing secret.");
        }
        for (var i = 0; i < options.Secrets.Count; i++)
        {
            if (!WebhookSecret.TryParse(options.Secrets[i], out _, out var error))
            {
                failures.Add($"{WebhookReceiverOptions.SectionName}:Secrets:{i} is malformed: {error}");
            }
        }
        if (options.ToleranceSeconds <= 0)
        {
            failures.Add($"{WebhookReceiverOptions.SectionName}:ToleranceSeconds must be positive.");
        }
        if (options.MaxBodyBytes is <= 0 or > MaxBodyBytesLimit)
        {
            failures.Add($"{WebhookReceiverOptions.SectionName}:MaxBodyBytes must be from 1 to {MaxBodyBytesLimit} (1 GiB).");
        }
        if (options.UnknownEventTypeStatusCode is < 200 or > 299)
        {
            failures.Add($"{WebhookReceiverOptions.SectionName}:UnknownEventTypeStatusCode must be a 2xx: any other answer makes the sender retry, give up on the message, or disable the endpoint.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
