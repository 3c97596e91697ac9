namespace Webhooks.Receiver.Sdk;

/// <summary>The outcome of verifying a webhook request.</summary>
public enum VerificationResult
{
    /// <summary>One signature matched one secret and the timestamp is within tolerance.</summary>
    Valid,
    /// <summary>A <c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> header is missing.</summary>
    MissingHeaders,
    /// <summary>The timestamp is not a number, or lies outside the tolerance (either direction).</summary>
    InvalidTimestamp,
    /// <summary>No <c>v1</c> signature matched any of the secrets.</summary>
    InvalidSignature,
}
