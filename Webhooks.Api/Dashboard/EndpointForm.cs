using System.Globalization;
using System.Text.Json;
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
    /// <summary>The payload filter's JSON; empty: none.</summary>
    public string? Filter { get; set; }
    public string? MaxInFlight { get; set; }
    /// <summary><c>standard</c>, <c>slack</c> or <c>discord</c>.</summary>
    public string? Format { get; set; }
    /// <summary>The transformation script as typed; empty: none.</summary>
    public string? Transformation { get; set; }
    /// <summary><c>none</c> or <c>fifo</c>.</summary>
    public string? Ordering { get; set; }

    // Authentication. The secret fields (password, header value, client secret, private key) are write-only: the page
    // never renders them, and left empty on a save they keep what is stored (while the type and the endpoint's origin
    // and token URL stay the same).
    public string? AuthType { get; set; }
    public string? AuthUsername { get; set; }
    public string? AuthPassword { get; set; }
    public string? AuthHeaderName { get; set; }
    public string? AuthHeaderValue { get; set; }
    public string? AuthTokenUrl { get; set; }
    public string? AuthClientId { get; set; }
    public string? AuthClientSecret { get; set; }
    public string? AuthScope { get; set; }
    public string? AuthAudience { get; set; }
    public string? AuthCertificate { get; set; }
    public string? AuthPrivateKey { get; set; }
    /// <summary>The stored client certificate, shown (never its key).</summary>
    public ClientCertificateOut? StoredCertificate { get; set; }

    public static EndpointForm Of(Endpoint e)
    {
        var auth = Endpoints.EndpointAuthRules.OutOf(e.AuthSummary);
        return new()
        {
            Url = e.Url,
            Description = e.Description,
            EventTypes = string.Join(", ", e.EventTypes),
            RateLimitPerSecond = e.RateLimitPerSecond?.ToString(CultureInfo.InvariantCulture),
            TimeoutSeconds = e.TimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            CircuitBreakerThreshold = e.CircuitBreakerThreshold?.ToString(CultureInfo.InvariantCulture),
            Filter = e.Filter,
            MaxInFlight = e.MaxInFlight?.ToString(CultureInfo.InvariantCulture),
            Format = e.Format,
            Transformation = e.Transformation,
            Ordering = e.Ordering == Core.Data.DeliveryOrdering.Fifo ? OrderingModes.Fifo : OrderingModes.None,
            AuthType = auth?.Type,
            AuthUsername = auth?.Username,
            AuthHeaderName = auth?.Name,
            AuthTokenUrl = auth?.TokenUrl,
            AuthClientId = auth?.ClientId,
            AuthScope = auth?.Scope,
            AuthAudience = auth?.Audience,
            StoredCertificate = auth?.ClientCertificate,
        };
    }

    /// <summary>The <c>auth</c> of the API's input: null for no authentication; each type carries only its own fields.</summary>
    public EndpointAuthIn? Auth()
    {
        var type = Blank(AuthType);
        if (type is null or "none")
        {
            return null;
        }
        var certificate = Blank(AuthCertificate) is { } pem ? new ClientCertificateIn(pem, Blank(AuthPrivateKey)) : null;
        return type switch
        {
            Core.Data.EndpointAuth.Basic => new EndpointAuthIn(type, Username: Blank(AuthUsername), Password: Empty(AuthPassword), ClientCertificate: certificate),
            Core.Data.EndpointAuth.Header => new EndpointAuthIn(type, Name: Blank(AuthHeaderName), Value: Empty(AuthHeaderValue), ClientCertificate: certificate),
            Core.Data.EndpointAuth.OAuth2ClientCredentials => new EndpointAuthIn(type, TokenUrl: Blank(AuthTokenUrl), ClientId: Blank(AuthClientId),
                ClientSecret: Empty(AuthClientSecret), Scope: Blank(AuthScope), Audience: Blank(AuthAudience), ClientCertificate: certificate),
            _ => new EndpointAuthIn(type, ClientCertificate: certificate),
        };
    }

    /// <summary>The create input, or null (with the errors added) when a number or the filter's JSON does not parse.</summary>
    public EndpointIn? ToInput(ModelStateDictionary errors)
    {
        var rate = Number(RateLimitPerSecond, "rateLimitPerSecond", errors);
        var timeout = Number(TimeoutSeconds, "timeoutSeconds", errors);
        var threshold = Number(CircuitBreakerThreshold, "circuitBreakerThreshold", errors);
        var filter = Json(Filter, "filter", errors);
        var maxInFlight = Number(MaxInFlight, "maxInFlight", errors);
        if (!errors.IsValid)
        {
            return null;
        }
        return new EndpointIn(Url?.Trim() ?? "", Blank(Description), List(EventTypes), RateLimitPerSecond: rate, TimeoutSeconds: timeout, Auth: Auth(),
            CircuitBreakerThreshold: threshold, Filter: filter, MaxInFlight: maxInFlight, Transformation: Empty(Transformation), Format: Blank(Format), Ordering: Blank(Ordering));
    }

    /// <summary>The update input: the form's fields over the endpoint's current channels, headers, metadata and retry schedule.</summary>
    public EndpointUpdateIn? ToUpdate(Endpoint current, ModelStateDictionary errors) =>
        ToInput(errors) is { } i
            ? new EndpointUpdateIn(i.Url, i.Description, i.EventTypes, current.Channels, i.RateLimitPerSecond, i.TimeoutSeconds,
                current.Headers, current.Metadata, current.RetrySchedule, i.Auth, i.CircuitBreakerThreshold, i.Filter, i.MaxInFlight, i.Transformation, i.Format, i.Ordering)
            : null;

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>A secret as typed (spaces may belong to it); empty: none given.</summary>
    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static List<string>? List(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static JsonElement? Json(string? value, string field, ModelStateDictionary errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(value, new JsonDocumentOptions { MaxDepth = 64 });
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            errors.AddModelError(field, $"'{field}' is not valid JSON: {ex.Message}");
            return null;
        }
    }

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
