using Refit;

namespace Webhooks.Client;

/// <summary>The Webhooks.Api management and publishing routes, for Refit.</summary>
public interface IWebhooksApi
{
    [Post("/api/v1/apps")]
    Task<ApplicationOut> CreateApplicationAsync([Body] ApplicationIn application, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}")]
    Task<ApplicationOut> GetApplicationAsync(string appId, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps")]
    Task<ListResponse<ApplicationOut>> ListApplicationsAsync(int? limit = null, string? iterator = null, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints")]
    Task<EndpointCreated> CreateEndpointAsync(string appId, [Body] EndpointIn endpoint, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints")]
    Task<ListResponse<EndpointOut>> ListEndpointsAsync(string appId, int? limit = null, string? iterator = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}")]
    Task<EndpointOut> GetEndpointAsync(string appId, string endpointId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints/{endpointId}/disable")]
    Task<EndpointOut> DisableEndpointAsync(string appId, string endpointId, [Body] DisableEndpointIn input, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints/{endpointId}/enable")]
    Task<EndpointOut> EnableEndpointAsync(string appId, string endpointId, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}/secret")]
    Task<EndpointSecretOut> GetEndpointSecretAsync(string appId, string endpointId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate")]
    Task<EndpointSecretOut> RotateEndpointSecretAsync(string appId, string endpointId, [Body] RotateSecretIn input, CancellationToken cancellationToken = default);

    /// <summary>Runs a transformation and format against a message or a given event, sending nothing (422 with the script's error).</summary>
    [Post("/api/v1/apps/{appId}/transformations/preview")]
    Task<TransformationPreviewOut> PreviewTransformationAsync(string appId, [Body] TransformationPreviewIn input, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints/{endpointId}/recover")]
    Task<RecoverOut> RecoverAsync(string appId, string endpointId, [Body] RecoverIn input, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/messages/{messageId}/endpoints/{endpointId}/resend")]
    Task<DeliveryOut> ResendAsync(string appId, string messageId, string endpointId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/portal-links")]
    Task<PortalLinkCreated> CreatePortalLinkAsync(string appId, [Body] PortalLinkIn input, CancellationToken cancellationToken = default);

    /// <summary>Where the application's tenant portal may be embedded, and how it looks.</summary>
    [Get("/api/v1/apps/{appId}/portal")]
    Task<PortalSettingsOut> GetPortalSettingsAsync(string appId, CancellationToken cancellationToken = default);

    [Put("/api/v1/apps/{appId}/portal")]
    Task<PortalSettingsOut> UpdatePortalSettingsAsync(string appId, [Body] PortalSettingsIn settings, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/portal-links")]
    Task<ListResponse<PortalLinkOut>> ListPortalLinksAsync(string appId, CancellationToken cancellationToken = default);

    [Delete("/api/v1/apps/{appId}/portal-links/{linkId}")]
    Task RevokePortalLinkAsync(string appId, string linkId, CancellationToken cancellationToken = default);

    /// <summary>Creates a source: a sender (GitHub, Stripe, Standard Webhooks) whose webhooks its ingest URL verifies and publishes.</summary>
    [Post("/api/v1/apps/{appId}/sources")]
    Task<SourceCreated> CreateSourceAsync(string appId, [Body] SourceIn source, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/sources")]
    Task<ListResponse<SourceOut>> ListSourcesAsync(string appId, int? limit = null, string? iterator = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/sources/{sourceId}")]
    Task<SourceOut> GetSourceAsync(string appId, string sourceId, CancellationToken cancellationToken = default);

    [Put("/api/v1/apps/{appId}/sources/{sourceId}")]
    Task<SourceOut> UpdateSourceAsync(string appId, string sourceId, [Body] SourceUpdateIn source, CancellationToken cancellationToken = default);

    [Delete("/api/v1/apps/{appId}/sources/{sourceId}")]
    Task DeleteSourceAsync(string appId, string sourceId, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/sources/{sourceId}/secret")]
    Task<SourceSecretOut> GetSourceSecretAsync(string appId, string sourceId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/sources/{sourceId}/secret/rotate")]
    Task<SourceSecretOut> RotateSourceSecretAsync(string appId, string sourceId, [Body] RotateSourceSecretIn input, CancellationToken cancellationToken = default);

    /// <summary>Gives the source a new ingest URL; the old one answers 404 at once (for a URL that leaked).</summary>
    [Post("/api/v1/apps/{appId}/sources/{sourceId}/ingest-url/rotate")]
    Task<SourceOut> RotateSourceIngestUrlAsync(string appId, string sourceId, CancellationToken cancellationToken = default);

    /// <summary>The source's log, newest first: every request its ingest URL took or refused (<paramref name="outcome"/>: <see cref="SourceEventOutcomes"/>).</summary>
    [Get("/api/v1/apps/{appId}/sources/{sourceId}/events")]
    Task<ListResponse<SourceEventOut>> ListSourceEventsAsync(string appId, string sourceId, int? limit = null, string? iterator = null, string? outcome = null,
        CancellationToken cancellationToken = default);

    [Post("/api/v1/api-keys")]
    Task<ApiKeyCreated> CreateApiKeyAsync([Body] ApiKeyIn input, CancellationToken cancellationToken = default);

    [Get("/api/v1/api-keys")]
    Task<ListResponse<ApiKeyOut>> ListApiKeysAsync(CancellationToken cancellationToken = default);

    [Delete("/api/v1/api-keys/{keyId}")]
    Task RevokeApiKeyAsync(string keyId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/messages")]
    Task<MessageOut> PublishAsync(string appId, [Body] MessageIn message, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/messages/batch")]
    Task<MessageBatchOut> PublishBatchAsync(string appId, [Body] MessageBatchIn batch, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/messages/{messageId}")]
    Task<MessageOut> GetMessageAsync(string appId, string messageId, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/messages/{messageId}/deliveries")]
    Task<ListResponse<DeliveryOut>> ListDeliveriesAsync(string appId, string messageId, [Query] DeliveryQuery? query = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/messages/{messageId}/attempts")]
    Task<ListResponse<AttemptOut>> ListAttemptsAsync(string appId, string messageId, [Query] AttemptQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>The last 24 hours of one application: deliveries by state, attempts per hour, success rate, due backlog.</summary>
    [Get("/api/v1/apps/{appId}/stats")]
    Task<ApplicationStatsOut> GetApplicationStatsAsync(string appId, CancellationToken cancellationToken = default);

    [Put("/api/v1/apps/{appId}")]
    Task<ApplicationOut> UpdateApplicationAsync(string appId, [Body] ApplicationIn application, CancellationToken cancellationToken = default);

    /// <summary>Deletes the application; its data goes once no delivery of it is in flight.</summary>
    [Delete("/api/v1/apps/{appId}")]
    Task DeleteApplicationAsync(string appId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/event-types")]
    Task<EventTypeOut> CreateEventTypeAsync(string appId, [Body] EventTypeIn eventType, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/event-types")]
    Task<ListResponse<EventTypeOut>> ListEventTypesAsync(string appId, bool? includeArchived = null, int? limit = null, string? iterator = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/event-types/{name}")]
    Task<EventTypeOut> GetEventTypeAsync(string appId, string name, CancellationToken cancellationToken = default);

    [Put("/api/v1/apps/{appId}/event-types/{name}")]
    Task<EventTypeOut> UpdateEventTypeAsync(string appId, string name, [Body] EventTypeUpdateIn eventType, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/event-types/{name}/archive")]
    Task<EventTypeOut> ArchiveEventTypeAsync(string appId, string name, CancellationToken cancellationToken = default);

    [Put("/api/v1/apps/{appId}/endpoints/{endpointId}")]
    Task<EndpointOut> UpdateEndpointAsync(string appId, string endpointId, [Body] EndpointUpdateIn endpoint, CancellationToken cancellationToken = default);

    [Delete("/api/v1/apps/{appId}/endpoints/{endpointId}")]
    Task DeleteEndpointAsync(string appId, string endpointId, CancellationToken cancellationToken = default);

    [Post("/api/v1/apps/{appId}/endpoints/{endpointId}/test")]
    Task<EndpointTestOut> TestEndpointAsync(string appId, string endpointId, [Body] EndpointTestIn input, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}/stats")]
    Task<EndpointStatsOut> GetEndpointStatsAsync(string appId, string endpointId, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}/deliveries")]
    Task<ListResponse<DeliveryOut>> ListEndpointDeliveriesAsync(string appId, string endpointId, [Query] DeliveryQuery? query = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}/attempts")]
    Task<ListResponse<AttemptOut>> ListEndpointAttemptsAsync(string appId, string endpointId, [Query] AttemptQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>The endpoint's history (its circuit opening and closing), newest first.</summary>
    [Get("/api/v1/apps/{appId}/endpoints/{endpointId}/history")]
    Task<ListResponse<EndpointEventOut>> ListEndpointHistoryAsync(string appId, string endpointId, int? limit = null, string? iterator = null, CancellationToken cancellationToken = default);

    [Get("/api/v1/apps/{appId}/messages")]
    Task<ListResponse<MessageOut>> ListMessagesAsync(string appId, [Query] MessageQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>One attempt, with the request headers sent (credential-like values redacted) and the response.</summary>
    [Get("/api/v1/apps/{appId}/attempts/{attemptId}")]
    Task<AttemptOut> GetAttemptAsync(string appId, string attemptId, CancellationToken cancellationToken = default);
}
