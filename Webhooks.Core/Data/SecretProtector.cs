using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Webhooks.Core.Data;

/// <summary>
/// Endpoint signing secrets at rest: stored encrypted with the data protection keys (kept in Postgres, next to the
/// dashboard's), never as plain text, so the endpoints table alone does not let anyone forge webhooks. With
/// <c>Webhooks:KeyRingKey</c> set, the key ring itself is encrypted too, and a database dump alone is not enough.
/// </summary>
public sealed class SecretProtector(IDataProtectionProvider provider)
{
    private const string Prefix = "dp1:";
    private readonly IDataProtector _protector = provider.CreateProtector("Webhooks.EndpointSecrets.v1");
    // Unprotecting costs a key-ring lookup and two MACs: the worker signs every delivery, so keep what it has decrypted.
    private readonly ConcurrentDictionary<string, string> _plain = new(StringComparer.Ordinal);

    public static bool IsProtected(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);

    public string Protect(string secret) => Prefix + _protector.Protect(secret);

    /// <summary>The secret of a stored value; a value stored before encryption (plain <c>whsec_…</c>) is returned as it is.</summary>
    public string Unprotect(string stored)
    {
        if (!IsProtected(stored))
        {
            return stored;
        }
        if (_plain.TryGetValue(stored, out var secret))
        {
            return secret;
        }
        if (_plain.Count > 100_000)
        {
            _plain.Clear();
        }
        return _plain[stored] = _protector.Unprotect(stored[Prefix.Length..]);
    }

    public string? UnprotectOrNull(string? stored) => stored is null ? null : Unprotect(stored);
}

public static class SecretProtectionExtensions
{
    /// <summary>The configuration key of the key-ring key: base64 of at least 32 random bytes.</summary>
    public const string KeyRingKeyName = "Webhooks:KeyRingKey";

    /// <summary>The setting that accepts a key ring stored in plain text outside Development (a dump then forges webhooks).</summary>
    public const string AllowUnencryptedKeyRingName = "Webhooks:AllowUnencryptedKeyRing";

    /// <summary>
    /// Data protection with its keys in Postgres (one ring for every API and worker), and the secret protector. Outside
    /// Development the key ring must be encrypted (<see cref="KeyRingKeyName"/>): otherwise the keys that encrypt the
    /// signing secrets lie in plain text beside them, and a database dump alone could forge webhooks.
    /// </summary>
    public static IServiceCollection AddWebhooksSecrets(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var protection = services.AddDataProtection().SetApplicationName("Webhooks.Api").PersistKeysToDbContext<WebhooksDbContext>();
        if (KeyRingKey.From(configuration) is { } key)
        {
            services.AddSingleton(key);
            protection.Services.Configure<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(o => o.XmlEncryptor = new KeyRingEncryptor(key));
        }
        else if (!environment.IsDevelopment() && !configuration.GetValue<bool>(AllowUnencryptedKeyRingName))
        {
            throw new InvalidOperationException(
                $"{KeyRingKeyName} is not set. Outside Development it is required: without it the data protection keys that encrypt " +
                "the endpoints' signing secrets are stored in plain text beside them, and a database dump alone could forge webhooks. " +
                "Set it to base64 of 32 random bytes (for example `openssl rand -base64 32`), the same for every API and worker, " +
                $"before the first start; or set {AllowUnencryptedKeyRingName}=true to accept that risk.");
        }
        services.AddSingleton<SecretProtector>();
        return services;
    }
}

/// <summary>The key that encrypts the data protection key ring at rest (AES-256-GCM).</summary>
public sealed class KeyRingKey
{
    private KeyRingKey(byte[] key) => Key = key;

    internal byte[] Key { get; }

    public static KeyRingKey? From(IConfiguration configuration)
    {
        if (configuration[SecretProtectionExtensions.KeyRingKeyName] is not { Length: > 0 } text)
        {
            return null;
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{SecretProtectionExtensions.KeyRingKeyName} must be base64 (of at least 32 random bytes).");
        }
        return bytes.Length >= 32
            ? new KeyRingKey(SHA256.HashData(bytes))
            : throw new InvalidOperationException($"{SecretProtectionExtensions.KeyRingKeyName} must hold at least 32 bytes; it holds {bytes.Length}.");
    }
}

internal sealed class KeyRingEncryptor(KeyRingKey key) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plain = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        var cipher = new byte[plain.Length];
        using (var aes = new AesGcm(key.Key, tag.Length))
        {
            aes.Encrypt(nonce, plain, cipher, tag);
        }
        var element = new XElement("encryptedKey",
            new XComment(" The data protection key, encrypted with Webhooks:KeyRingKey (AES-256-GCM). "),
            new XElement("value", Convert.ToBase64String([.. nonce, .. tag, .. cipher])));
        return new EncryptedXmlInfo(element, typeof(KeyRingDecryptor));
    }
}

/// <summary>Created by data protection from the type name stored with each encrypted key.</summary>
internal sealed class KeyRingDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var key = services.GetService<KeyRingKey>()
            ?? throw new InvalidOperationException($"The data protection key ring is encrypted, but {SecretProtectionExtensions.KeyRingKeyName} is not set.");
        var data = Convert.FromBase64String((string?)encryptedElement.Element("value") ?? "");
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        var plain = new byte[data.Length - nonceSize - tagSize];
        using (var aes = new AesGcm(key.Key, tagSize))
        {
            aes.Decrypt(data.AsSpan(0, nonceSize), data.AsSpan(nonceSize + tagSize), data.AsSpan(nonceSize, tagSize), plain);
        }
        return XElement.Parse(Encoding.UTF8.GetString(plain));
    }
}
