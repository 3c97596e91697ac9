using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using FluentValidation;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Api.Endpoints;

/// <summary>
/// The shape of an endpoint's <c>auth</c>: a known type, the fields of that type only, bounded sizes, printable text, a
/// header name the worker may set, a token URL like an endpoint URL, and a client certificate that parses, holds its
/// private key and is valid now (422 otherwise). Whether a secret may be left out is decided against the stored
/// credentials (<see cref="EndpointAuthRules.Resolve"/>).
/// </summary>
public sealed class EndpointAuthInValidator : AbstractValidator<EndpointAuthIn>
{
    public const int MaxSecretLength = 4096;
    public const int MaxCertificateLength = 64 * 1024;
    public const int MaxPrivateKeyLength = 16 * 1024;

    public EndpointAuthInValidator(IConfiguration configuration, TimeProvider time)
    {
        var httpsOnly = configuration.GetValue<bool>("Webhooks:RequireHttps");
        RuleFor(a => a.Type).Cascade(CascadeMode.Stop).NotEmpty().Must(t => EndpointAuth.Types.Contains(t))
            .WithMessage($"'type' must be one of: {string.Join(", ", EndpointAuth.Types)}.");

        RuleFor(a => a.Username!).Cascade(CascadeMode.Stop).NotEmpty().MaximumLength(256).Must(u => Text.IsPrintable(u) && !u.Contains(':'))
            .WithMessage("'username' is required: up to 256 printable characters, without ':'.")
            .When(a => a.Type == EndpointAuth.Basic);
        RuleFor(a => a.Password!).MaximumLength(1024).Must(Text.IsPrintable).When(a => a.Password is not null);

        RuleFor(a => a.Name!).Cascade(CascadeMode.Stop).NotEmpty().Must(n => CustomHeaders.IsAllowed(n, "") && !IsSignatureHeader(n))
            .WithMessage("'name' is required: a header name (a token) that is not reserved (webhook-*, content-*, host, …).")
            .When(a => a.Type == EndpointAuth.Header);
        RuleFor(a => a.Value!).MaximumLength(MaxSecretLength).Must(v => CustomHeaders.IsAllowed("x", v))
            .WithMessage($"'value' must be up to {MaxSecretLength} characters of visible ASCII (it is sent as a header as it is).").When(a => a.Value is not null);

        RuleFor(a => a.TokenUrl!).Cascade(CascadeMode.Stop).NotEmpty().MaximumLength(UrlRules.MaxUrlLength).Must(url => UrlRules.IsWebUrl(url, httpsOnly))
            .WithMessage(httpsOnly ? "'tokenUrl' is required: an absolute https URL." : "'tokenUrl' is required: an absolute http or https URL.")
            .When(a => a.Type == EndpointAuth.OAuth2ClientCredentials);
        RuleFor(a => a.ClientId!).Cascade(CascadeMode.Stop).NotEmpty().MaximumLength(1024).Must(Text.IsPrintable)
            .When(a => a.Type == EndpointAuth.OAuth2ClientCredentials);
        RuleFor(a => a.ClientSecret!).MaximumLength(MaxSecretLength).Must(Text.IsPrintable).When(a => a.ClientSecret is not null);
        RuleFor(a => a.Scope!).MaximumLength(1024).Must(Text.IsPrintable).When(a => a.Scope is not null);
        RuleFor(a => a.Audience!).MaximumLength(UrlRules.MaxUrlLength).Must(Text.IsPrintable).When(a => a.Audience is not null);

        // Fields of another type are refused rather than ignored: a client that thinks it set them should hear it did not.
        RuleFor(a => a).Custom((a, context) =>
        {
            foreach (var (field, value) in new (string, object?)[]
                     {
                         ("username", a.Username), ("password", a.Password), ("name", a.Name), ("value", a.Value), ("tokenUrl", a.TokenUrl),
                         ("clientId", a.ClientId), ("clientSecret", a.ClientSecret), ("scope", a.Scope), ("audience", a.Audience),
                     })
            {
                if (value is not null && !EndpointAuthRules.FieldsOf(a.Type).Contains(field))
                {
                    context.AddFailure(field, $"'{field}' does not apply to auth type '{a.Type}'.");
                }
            }
        }).When(a => EndpointAuth.Types.Contains(a.Type));

        RuleFor(a => a.ClientCertificate).NotNull().WithMessage("'clientCertificate' is required with type 'mtls'.").When(a => a.Type == EndpointAuth.Mtls);
        RuleFor(a => a.ClientCertificate!.Certificate).NotEmpty().MaximumLength(MaxCertificateLength)
            .OverridePropertyName("clientCertificate.certificate").When(a => a.ClientCertificate is not null);
        RuleFor(a => a.ClientCertificate!.PrivateKey!).MaximumLength(MaxPrivateKeyLength)
            .OverridePropertyName("clientCertificate.privateKey").When(a => a.ClientCertificate?.PrivateKey is not null);
        RuleFor(a => a.ClientCertificate!)
            .Must(c => EndpointAuthRules.CertificateProblem(c.Certificate, c.PrivateKey, time.GetUtcNow()) is null)
            .WithMessage(a => EndpointAuthRules.CertificateProblem(a.ClientCertificate!.Certificate, a.ClientCertificate.PrivateKey, time.GetUtcNow()))
            .WithErrorCode(Problems.UnprocessableCode)
            .When(a => a.ClientCertificate is { Certificate.Length: > 0 and <= MaxCertificateLength }
                       && (a.ClientCertificate.PrivateKey?.Length ?? 0) <= MaxPrivateKeyLength);
    }

    private static bool IsSignatureHeader(string name) =>
        name.Contains("signature", StringComparison.OrdinalIgnoreCase) || name.StartsWith("content-", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("proxy-authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("cookie", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("expect", StringComparison.OrdinalIgnoreCase) || name.Equals("te", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("upgrade", StringComparison.OrdinalIgnoreCase) || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Turns the API's <c>auth</c> into what is stored, and what is stored into what the API shows.</summary>
public static class EndpointAuthRules
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    internal static string[] FieldsOf(string type) => type switch
    {
        EndpointAuth.Basic => ["username", "password"],
        EndpointAuth.Header => ["name", "value"],
        EndpointAuth.OAuth2ClientCredentials => ["tokenUrl", "clientId", "clientSecret", "scope", "audience"],
        _ => [],
    };

    /// <summary>Why the certificate cannot be used, or null: it must parse, carry its private key and be valid now.</summary>
    public static string? CertificateProblem(string certificatePem, string? privateKeyPem, DateTimeOffset now)
    {
        try
        {
            using var certificate = Load(certificatePem, privateKeyPem);
            if (!certificate.HasPrivateKey)
            {
                return "'clientCertificate' has no private key: give 'privateKey' (PEM) or put the key in 'certificate'.";
            }
            if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
            {
                return $"'clientCertificate' expired on {certificate.NotAfter.ToUniversalTime():u}.";
            }
            if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
            {
                return $"'clientCertificate' is not valid before {certificate.NotBefore.ToUniversalTime():u}.";
            }
            return null;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            return "'clientCertificate' must be a PEM certificate with its unencrypted PEM private key (PKCS#8, PKCS#1 or EC): " + ex.Message;
        }
    }

    /// <summary>The certificate with its key; the key may be given apart or in the same PEM text.</summary>
    public static X509Certificate2 Load(string certificatePem, string? privateKeyPem)
    {
        var key = string.IsNullOrWhiteSpace(privateKeyPem) ? certificatePem : privateKeyPem;
        if (!key.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            return X509Certificate2.CreateFromPem(certificatePem);
        }
        return X509Certificate2.CreateFromPem(certificatePem, key);
    }

    public sealed record Resolution(EndpointAuth? Auth, Dictionary<string, string[]>? Errors);

    /// <summary>
    /// The credentials to store for <paramref name="input"/>. A secret left out (null) keeps the stored one only while
    /// the type, the endpoint's origin and (for OAuth 2.0) the token URL and client id stay the same: credentials
    /// are never sent somewhere new unless whoever points them there also knows them.
    /// </summary>
    public static Resolution Resolve(EndpointAuthIn? input, string url, EndpointAuth? stored, string? storedUrl)
    {
        if (input is null)
        {
            return new(null, null);
        }
        var keep = stored is not null && stored.Type == input.Type && SameOrigin(url, storedUrl) &&
                   (input.Type != EndpointAuth.OAuth2ClientCredentials || (stored.TokenUrl == input.TokenUrl && stored.ClientId == input.ClientId));
        var errors = new Dictionary<string, string[]>();
        string? Secret(string field, string? given, string? kept, bool required)
        {
            if (given is not null)
            {
                return given;
            }
            if (keep && kept is not null)
            {
                return kept;
            }
            if (required)
            {
                errors[$"auth.{field}"] = [$"'auth.{field}' is required (a stored one is kept only while the type, the endpoint's origin and the token URL stay the same)."];
            }
            return null;
        }
        var certificate = input.ClientCertificate;
        var auth = new EndpointAuth
        {
            Type = input.Type,
            Username = input.Username,
            Password = input.Type == EndpointAuth.Basic ? Secret("password", input.Password, stored?.Password, required: true) : null,
            HeaderName = input.Name,
            HeaderValue = input.Type == EndpointAuth.Header ? Secret("value", input.Value, stored?.HeaderValue, required: true) : null,
            TokenUrl = input.TokenUrl,
            ClientId = input.ClientId,
            ClientSecret = input.Type == EndpointAuth.OAuth2ClientCredentials
                ? Secret("clientSecret", input.ClientSecret, stored?.ClientSecret, required: true)
                : null,
            Scope = input.Scope,
            Audience = input.Audience,
            CertificatePem = certificate?.Certificate ?? (keep ? stored!.CertificatePem : null),
            PrivateKeyPem = certificate is not null
                ? (string.IsNullOrWhiteSpace(certificate.PrivateKey) ? null : certificate.PrivateKey)
                : keep ? stored!.PrivateKeyPem : null,
        };
        if (auth.Type == EndpointAuth.Mtls && auth.CertificatePem is null)
        {
            errors["auth.clientCertificate"] = ["'auth.clientCertificate' is required with type 'mtls'."];
        }
        return errors.Count > 0 ? new(null, errors) : new(auth, null);
    }

    /// <summary>What the API shows: the type and the non-secret fields, and the certificate's subject, thumbprint and expiry.</summary>
    public static string Summary(EndpointAuth auth)
    {
        ClientCertificateOut? certificate = null;
        if (auth.CertificatePem is not null)
        {
            using var loaded = Load(auth.CertificatePem, auth.PrivateKeyPem);
            certificate = new ClientCertificateOut(loaded.Subject, loaded.GetCertHashString(HashAlgorithmName.SHA256), loaded.NotAfter.ToUniversalTime());
        }
        return JsonSerializer.Serialize(new EndpointAuthOut(auth.Type, auth.Username, auth.HeaderName, auth.TokenUrl, auth.ClientId, auth.Scope, auth.Audience, certificate), Json);
    }

    public static EndpointAuthOut? OutOf(string? summary) => summary is null ? null : JsonSerializer.Deserialize<EndpointAuthOut>(summary, Json);

    internal static bool SameOrigin(string url, string? storedUrl) =>
        storedUrl is not null && Uri.TryCreate(url, UriKind.Absolute, out var a) && Uri.TryCreate(storedUrl, UriKind.Absolute, out var b) &&
        Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0;
}
