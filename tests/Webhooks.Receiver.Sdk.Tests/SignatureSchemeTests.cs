using System.Text;
using Webhooks.Receiver.Sdk;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>The Standard Webhooks test vectors (standard-webhooks/standard-webhooks).</summary>
public class SignatureSchemeTests
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long Timestamp = 1614265330;
    private static readonly byte[] Payload = Encoding.UTF8.GetBytes("{\"test\": 2432232314}");
    private const string Expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(Timestamp);
    private static readonly WebhookSecret[] Secrets = [WebhookSecret.Parse(Secret)];

    private static VerificationResult Verify(string signatures, long? timestamp = null, DateTimeOffset? now = null, byte[]? body = null) =>
        SignatureScheme.Verify(Secrets, Id, (timestamp ?? Timestamp).ToString(), signatures, body ?? Payload, now ?? Now, SignatureScheme.DefaultTolerance);

    [Fact]
    public void Signs_the_standard_test_vector() =>
        Assert.Equal(Expected, SignatureScheme.Sign(WebhookSecret.Parse(Secret), Id, Timestamp, Payload));

    [Theory]
    [InlineData(120)]
    [InlineData(170)]
    [InlineData(2000)]
    public void A_long_id_is_signed_as_the_scheme_says_and_verifies(int length)
    {
        // Past about 160 characters "{id}.{timestamp}." no longer fits the stack buffer: it is signed from a pooled one.
        var id = "msg_" + new string('é', length);
        var secret = WebhookSecret.Parse(Secret);
        var expected = "v1," + Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(secret.Key,
            [.. Encoding.UTF8.GetBytes($"{id}.{Timestamp}."), .. Payload]));
        Assert.Equal(expected, SignatureScheme.Sign(secret, id, Timestamp, Payload));
        Assert.Equal(VerificationResult.Valid, SignatureScheme.Verify(Secrets, id, Timestamp.ToString(), expected, Payload, Now, SignatureScheme.DefaultTolerance));
    }

    [Fact]
    public void Secret_parses_with_or_without_prefix_to_the_same_key() =>
        Assert.Equal(
            SignatureScheme.Sign(WebhookSecret.Parse(Secret), Id, Timestamp, Payload),
            SignatureScheme.Sign(WebhookSecret.Parse(Secret["whsec_".Length..]), Id, Timestamp, Payload));

    [Fact]
    public void Accepts_the_valid_signature() => Assert.Equal(VerificationResult.Valid, Verify(Expected));

    [Fact]
    public void Refuses_a_wrong_signature() =>
        Assert.Equal(VerificationResult.InvalidSignature, Verify("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="));

    [Fact]
    public void Refuses_a_partial_signature() => Assert.Equal(VerificationResult.InvalidSignature, Verify("v1,"));

    [Fact]
    public void Refuses_a_tampered_body() =>
        Assert.Equal(VerificationResult.InvalidSignature, Verify(Expected, body: Encoding.UTF8.GetBytes("{\"test\": 2432232315}")));

    [Fact]
    public void Ignores_unknown_versions_mixed_in_and_accepts_the_v1_among_them() =>
        Assert.Equal(VerificationResult.Valid, Verify($"v2,abcdefg {Expected} v1a,xyz"));

    [Fact]
    public void Refuses_when_only_unknown_versions_are_present() =>
        Assert.Equal(VerificationResult.InvalidSignature, Verify("v2," + Expected["v1,".Length..]));

    [Fact]
    public void Refuses_a_timestamp_301_seconds_old() =>
        Assert.Equal(VerificationResult.InvalidTimestamp, Verify(Expected, now: Now.AddSeconds(301)));

    [Fact]
    public void Refuses_a_timestamp_301_seconds_ahead() =>
        Assert.Equal(VerificationResult.InvalidTimestamp, Verify(Expected, now: Now.AddSeconds(-301)));

    [Fact]
    public void Accepts_a_timestamp_300_seconds_either_way()
    {
        Assert.Equal(VerificationResult.Valid, Verify(Expected, now: Now.AddSeconds(300)));
        Assert.Equal(VerificationResult.Valid, Verify(Expected, now: Now.AddSeconds(-300)));
    }

    [Theory]
    [InlineData(null, "1614265330", Expected)]
    [InlineData(Id, null, Expected)]
    [InlineData(Id, "1614265330", null)]
    public void Reports_missing_headers(string? id, string? timestamp, string? signature) =>
        Assert.Equal(VerificationResult.MissingHeaders,
            SignatureScheme.Verify(Secrets, id, timestamp, signature, Payload, Now, SignatureScheme.DefaultTolerance));

    [Theory]
    [InlineData("abc")]
    [InlineData("-1614265330")]
    [InlineData("1614265330.5")]
    public void Refuses_a_timestamp_that_is_not_unix_seconds(string timestamp) =>
        Assert.Equal(VerificationResult.InvalidTimestamp,
            SignatureScheme.Verify(Secrets, Id, timestamp, Expected, Payload, Now, SignatureScheme.DefaultTolerance));

    [Fact]
    public void Signs_with_every_secret_during_rotation_and_either_verifies()
    {
        var old = WebhookSecret.Generate();
        var current = WebhookSecret.Generate();
        var header = SignatureScheme.Sign([current, old], Id, Timestamp, Payload);
        Assert.Equal(2, header.Split(' ').Length);
        Assert.Equal(VerificationResult.Valid, SignatureScheme.Verify([old], Id, Timestamp.ToString(), header, Payload, Now, SignatureScheme.DefaultTolerance));
        Assert.Equal(VerificationResult.Valid, SignatureScheme.Verify([current], Id, Timestamp.ToString(), header, Payload, Now, SignatureScheme.DefaultTolerance));
        Assert.Equal(VerificationResult.InvalidSignature,
            SignatureScheme.Verify([WebhookSecret.Generate()], Id, Timestamp.ToString(), header, Payload, Now, SignatureScheme.DefaultTolerance));
    }

    [Theory]
    [InlineData("")]
    [InlineData("whsec_")]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_c2hvcnQ=")]
    public void Refuses_malformed_secrets(string text)
    {
        Assert.False(WebhookSecret.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<FormatException>(() => WebhookSecret.Parse(text));
    }

    [Fact]
    public void Generated_secrets_round_trip_through_text()
    {
        var secret = WebhookSecret.Generate();
        Assert.StartsWith("whsec_", secret.ToString(), StringComparison.Ordinal);
        Assert.Equal(
            SignatureScheme.Sign(secret, Id, Timestamp, Payload),
            SignatureScheme.Sign(WebhookSecret.Parse(secret.ToString()), Id, Timestamp, Payload));
    }
}
