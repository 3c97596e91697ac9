using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Webhooks.Core.Data;

/// <summary>
/// How the worker authenticates to an endpoint, on top of the signature: a basic or custom header, an OAuth 2.0
/// client-credentials token, and/or a client certificate for mutual TLS. Stored as a whole, encrypted with the data
/// protection keys like the signing secrets (<see cref="Endpoint.Auth"/>); the API never returns the secret parts.
/// </summary>
public sealed record EndpointAuth
{
    public const string Basic = "basic";
    public const string Header = "header";
    public const string OAuth2ClientCredentials = "oauth2-client-credentials";
    /// <summary>Only a client certificate: nothing is added to the request.</summary>
    public const string Mtls = "mtls";

    public static readonly IReadOnlyList<string> Types = [Basic, Header, OAuth2ClientCredentials, Mtls];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required string Type { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public string? HeaderName { get; init; }
    public string? HeaderValue { get; init; }
    public string? TokenUrl { get; init; }
    public string? ClientId { get; init; }
    public string? ClientSecret { get; init; }
    public string? Scope { get; init; }
    public string? Audience { get; init; }
    /// <summary>The client certificate (PEM) and its private key (PEM), presented on the TLS handshake.</summary>
    public string? CertificatePem { get; init; }
    public string? PrivateKeyPem { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static EndpointAuth FromJson(string json) =>
        JsonSerializer.Deserialize<EndpointAuth>(json, Json) ?? throw new JsonException("The stored endpoint authentication is empty.");

    /// <summary>A digest of everything in it: a cached token or TLS handler belongs to one set of credentials, not just to an endpoint.</summary>
    public string Hash() => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())), 0, 16);

    /// <summary>A digest of the certificate and key alone, so a client handler is shared while they stay the same.</summary>
    public string? CertificateHash() => CertificatePem is null
        ? null
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(CertificatePem + "\n" + PrivateKeyPem)), 0, 16);
}
