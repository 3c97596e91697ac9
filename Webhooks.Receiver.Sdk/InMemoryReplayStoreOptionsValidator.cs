using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk;

internal sealed class InMemoryReplayStoreOptionsValidator : IValidateOptions<InMemoryReplayStoreOptions>
{
    public static readonly TimeSpan MinRetention = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(30);

    public ValidateOptionsResult Validate(string? name, InMemoryReplayStoreOptions options)
    {
        var failures = new List<string>();
        if (options.HandledRetention < MinRetention || options.HandledRetention > MaxRetention)
        {
            failures.Add($"{nameof(InMemoryReplayStoreOptions)}.{nameof(InMemoryReplayStoreOptions.HandledRetention)} is {options.HandledRetention}; it must be from 1 hour to 30 days (default 72 hours, longer than the sender's retries).");
        }
        if (options.MaxHandledIds < 1)
        {
            failures.Add($"{nameof(InMemoryReplayStoreOptions)}.{nameof(InMemoryReplayStoreOptions.MaxHandledIds)} must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
