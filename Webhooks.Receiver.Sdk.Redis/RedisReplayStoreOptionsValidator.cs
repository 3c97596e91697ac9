using Microsoft.Extensions.Options;

namespace Webhooks.Receiver.Sdk.Redis;

internal sealed class RedisReplayStoreOptionsValidator : IValidateOptions<RedisReplayStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisReplayStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrEmpty(options.KeyPrefix))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.KeyPrefix)} is empty: give the receiver's keys a prefix of their own.");
        }
        if (options.HandledRetention < TimeSpan.FromHours(1) || options.HandledRetention > TimeSpan.FromDays(30))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.HandledRetention)} is {options.HandledRetention}; it must be from 1 hour to 30 days (default 72 hours, longer than the sender's retries).");
        }
        if (options.ClaimTimeout < TimeSpan.FromSeconds(1) || options.ClaimTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"{nameof(RedisReplayStoreOptions)}.{nameof(RedisReplayStoreOptions.ClaimTimeout)} is {options.ClaimTimeout}; it must be from 1 second to 1 hour.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
