using System.ComponentModel.DataAnnotations;
using Webhooks.Core.Delivery;

namespace Webhooks.Worker.Dispatch;

/// <summary>The delivery engine's settings, bound from <c>Webhooks:Delivery</c>.</summary>
public sealed class DeliveryOptions : IValidatableObject
{
    public const string SectionName = "Webhooks:Delivery";

    /// <summary>Requests in flight at once from one worker; also the most deliveries one claim takes.</summary>
    [Range(1, 4096)]
    public int MaxConcurrency { get; set; } = 128;

    /// <summary>Requests in flight at once from one worker to one endpoint: a slow endpoint holds no more slots than this.</summary>
    [Range(1, 1024)]
    public int MaxInFlightPerEndpoint { get; set; } = 16;

    /// <summary>
    /// Requests in flight at once from one worker for one application (tenant), however many endpoints it has; empty:
    /// three quarters of <see cref="MaxConcurrency"/>. While several applications have work due, each gets at most an
    /// equal share of the slots. So one tenant's hanging endpoints never hold every slot.
    /// </summary>
    [Range(1, 4096)]
    public int? MaxInFlightPerApplication { get; set; }

    /// <summary>An endpoint is disabled after this many failed attempts in a row…</summary>
    [Range(1, 100_000)]
    public int DisableAfterFailures { get; set; } = 10;

    /// <summary>…once it has been failing, without a success, for this long (default 5 days).</summary>
    [Range(0, 365 * 24 * 3600)]
    public double DisableAfterSeconds { get; set; } = 5 * 24 * 3600;

    /// <summary>
    /// The circuit breaker: this many failed attempts in a row open an endpoint's circuit (the endpoint's own
    /// <c>circuitBreakerThreshold</c> wins). Its deliveries then wait, unattempted, until a cool-down passes and one probe
    /// goes; a success closes the circuit, a failure re-opens it for twice as long.
    /// </summary>
    [Range(1, 1000)]
    public int CircuitBreakerThreshold { get; set; } = 5;

    /// <summary>The first cool-down of an open circuit, in seconds; each failed probe doubles it…</summary>
    [Range(0.1, 24 * 3600)]
    public double CircuitBreakerCooldownSeconds { get; set; } = 30;

    /// <summary>…up to this (default 10 minutes).</summary>
    [Range(0.1, 24 * 3600)]
    public double CircuitBreakerMaxCooldownSeconds { get; set; } = 600;

    /// <summary>How often expired leases are swept back to due.</summary>
    [Range(0.5, 3600)]
    public double LeaseSweepSeconds { get; set; } = 15;

    /// <summary>How often the retention job runs.</summary>
    [Range(1, 7 * 24 * 3600)]
    public double RetentionIntervalSeconds { get; set; } = 3600;

    /// <summary>How often the dispatcher polls when no wake-up signal comes (Redis down, or a retry fell due).</summary>
    [Range(0.05, 60)]
    public double PollIntervalSeconds { get; set; } = 1;

    /// <summary>
    /// Whether recording a batch of attempts waits for Postgres to flush it (<c>synchronous_commit</c>). Off by default: a
    /// record lost in a Postgres crash can only cause a duplicate send (its lease expires, the sweep records it and it
    /// goes again), never a lost delivery; claims and publishes always wait. See <see cref="DeliveryStore.RecordAsync(IReadOnlyList{AttemptResult}, DeliveryStore.HealthPolicy, CancellationToken, bool)"/>.
    /// </summary>
    public bool FlushRecords { get; set; }

    /// <summary>How long a lease outlasts the endpoint's timeout: time to record the attempt.</summary>
    [Range(1, 3600)]
    public int LeaseMarginSeconds { get; set; } = 30;

    /// <summary>Retry delays in seconds (the first is before the first attempt, normally 0). Empty: the default schedule.</summary>
    public double[] RetryScheduleSeconds { get; set; } = [];

    /// <summary>Lets deliveries reach loopback, private and link-local addresses. Off in production: SSRF guard.</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>
    /// SHA-256 thumbprints (hex) of receiver TLS certificates accepted although no trusted root vouches for them
    /// (self-signed receivers, tests). Only the chain is excused: the host name must still match. Empty by default:
    /// the machine's trust store alone decides.
    /// </summary>
    public string[] TrustedServerCertificates { get; set; } = [];

    /// <summary>How long an OAuth 2.0 token endpoint may take to answer.</summary>
    [Range(1, 60)]
    public double TokenTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// An HTTP proxy every delivery goes through (<c>http://host:port</c>; HTTPS targets through a <c>CONNECT</c> tunnel),
    /// so receivers can allow-list its fixed address. Its own address may be private (the operator chose it); the address
    /// guard then checks each delivery's target in this process before the request leaves. Empty: deliveries go direct.
    /// Environment proxies (<c>HTTP_PROXY</c> and the like) are ignored either way.
    /// </summary>
    public string? Proxy { get; set; }

    /// <summary>The proxy's user name (Basic); or put <c>user:password@</c> in <see cref="Proxy"/>.</summary>
    public string? ProxyUsername { get; set; }

    /// <summary>The proxy's password.</summary>
    public string? ProxyPassword { get; set; }

    /// <summary>The proxy as configured (null: none), and its credentials from the settings or the URL's user info.</summary>
    public (Uri Address, System.Net.NetworkCredential? Credentials)? ProxySettings
    {
        get
        {
            if (string.IsNullOrWhiteSpace(Proxy) || !Uri.TryCreate(Proxy.Trim(), UriKind.Absolute, out var uri))
            {
                return null;
            }
            var user = ProxyUsername;
            var password = ProxyPassword;
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                user ??= Uri.UnescapeDataString(parts[0]);
                password ??= parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null;
            }
            var address = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
            return (address, string.IsNullOrEmpty(user) ? null : new System.Net.NetworkCredential(user, password ?? ""));
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(Proxy) &&
            (!Uri.TryCreate(Proxy.Trim(), UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || string.IsNullOrEmpty(uri.Host) ||
             uri.AbsolutePath != "/" || uri.Query.Length > 0))
        {
            yield return new ValidationResult(
                $"{SectionName}:Proxy must be an http proxy URL, 'http://host:port' (optionally 'http://user:password@host:port').", [nameof(Proxy)]);
        }
        else if (!string.IsNullOrEmpty(ProxyPassword) && ProxySettings?.Credentials is null)
        {
            yield return new ValidationResult($"{SectionName}:ProxyPassword needs a {SectionName}:ProxyUsername (or a user name in the proxy's URL).",
                [nameof(ProxyUsername)]);
        }
    }

    /// <summary>
    /// The uid of the application that receives operational webhooks (<c>endpoint.disabled</c>,
    /// <c>message.attempt.exhausted</c>): the platform owner creates it and subscribes endpoints to it.
    /// </summary>
    [MaxLength(256)]
    public string OperationalApplicationUid { get; set; } = "operational";

    /// <summary>Attempts and finished messages older than this are deleted.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    public int PerApplicationCap => Math.Min(MaxConcurrency, MaxInFlightPerApplication ?? Math.Max(1, MaxConcurrency * 3 / 4));

    public DeliveryStore.HealthPolicy HealthPolicy =>
        new(DisableAfterFailures, TimeSpan.FromSeconds(DisableAfterSeconds), OperationalApplicationUid,
            new DeliveryStore.CircuitPolicy(CircuitBreakerThreshold, TimeSpan.FromSeconds(CircuitBreakerCooldownSeconds),
                TimeSpan.FromSeconds(Math.Max(CircuitBreakerCooldownSeconds, CircuitBreakerMaxCooldownSeconds))));

    public RetrySchedule RetrySchedule => RetryScheduleSeconds.Length == 0
        ? RetrySchedule.Default
        : new RetrySchedule(RetryScheduleSeconds.Select(TimeSpan.FromSeconds).ToArray());
}
