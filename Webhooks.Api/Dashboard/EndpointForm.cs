using System.Globalization;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Webhooks.Client;
using Endpoint = Webhooks.Core.Data.Endpoint;

namespace Webhooks.Api.Dashboard;

/// <summary>The endpoint form's fields as typed; turned into the API's input, then validated by the API's validator.</summary>
public sealed class EndpointForm
{
    public string? Url { get; set; }
    public string? Description { get; set; }
    public string? EventTypes { get; set; }
    public string? RateLimitPerSecond { get; set; }
    public string? TimeoutSeconds { get; set; }
    public string? CircuitBreakerThreshold { get; set; }

    public static EndpointForm Of(Endpoint e) => new()
    {
        Url = e.Url,
        Description = e.Description,
        EventTypes = string.Join(", ", e.EventTypes),
        RateLimitPerSecond = e.RateLimitPerSecond?.ToString(CultureInfo.InvariantCulture),
        TimeoutSeconds = e.TimeoutSeconds.ToString(CultureInfo.InvariantCulture),
        CircuitBreakerThreshold = e.CircuitBreakerThreshold?.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The create input, or null (with the errors added) when a number does not parse.</summary>
    public EndpointIn? ToInput(ModelStateDictionary errors)
    {
        var rate = Number(RateLimitPerSecond, "rateLimitPerSecond", errors);
        var timeout = Number(TimeoutSeconds, "timeoutSeconds", errors);
        var threshold = Number(CircuitBreakerThreshold, "circuitBreakerThreshold", errors);
        if (!errors.IsValid)
        {
            return null;
        }
        return new EndpointIn(Url?.Trim() ?? "", Blank(Description), List(EventTypes), RateLimitPerSecond: rate, TimeoutSeconds: timeout,
            CircuitBreakerThreshold: threshold);
    }

    /// <summary>The update input: the form's fields over the endpoint's current channels, headers, metadata and retry schedule.</summary>
    public EndpointUpdateIn? ToUpdate(Endpoint current, ModelStateDictionary errors) =>
        ToInput(errors) is { } i
            ? new EndpointUpdateIn(i.Url, i.Description, i.EventTypes, current.Channels, i.RateLimitPerSecond, i.TimeoutSeconds,
                current.Headers, current.Metadata, current.RetrySchedule, i.CircuitBreakerThreshold)
            : null;

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static List<string>? List(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static int? Number(string? value, string field, ModelStateDictionary errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }
        errors.AddModelError(field, $"'{field}' must be a whole number.");
        return null;
    }
}
