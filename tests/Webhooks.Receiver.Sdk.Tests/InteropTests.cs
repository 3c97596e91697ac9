using System.Net;
using System.Text;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>The public npm <c>standardwebhooks</c> package, run with Node, as an independent peer.</summary>
internal static class NodePeer
{
    private static readonly NodeFolder Interop = new("tests", "Webhooks.Receiver.Sdk.Tests", "interop");

    public static async Task<(int ExitCode, string Output)> PeerAsync(string[] arguments, byte[] body)
    {
        var run = await Interop.RunAsync("peer.mjs", arguments, body);
        return (run.ExitCode, run.StandardOutput + run.StandardError);
    }
}

public sealed class InteropTests : IAsyncLifetime
{
    private readonly WebhookSecret _secret = WebhookSecret.Generate();
    private readonly FlakyHandler.State _state = new();
    private Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync() => (_app, _http) = await ReceiverHost.StartAsync(_secret, _state);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    private static byte[] Body(int n) => Encoding.UTF8.GetBytes($"{{\"type\":\"order.created\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{{\"n\":{n},\"note\":\"é ✓\"}}}}");

    [Fact]
    public async Task What_our_signer_produces_their_verifier_accepts_and_a_tampered_body_it_refuses()
    {
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = Body(1);
        var signature = SignatureScheme.Sign(_secret, id, timestamp, body);

        var (code, output) = await NodePeer.PeerAsync(["verify", _secret.ToString(), id, timestamp.ToString(), signature], body);
        Assert.Equal((0, "valid"), (code, output));

        var tampered = Body(2);
        (code, output) = await NodePeer.PeerAsync(["verify", _secret.ToString(), id, timestamp.ToString(), signature], tampered);
        Assert.Equal(1, code);
        Assert.StartsWith("invalid", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_their_signer_produces_our_middleware_accepts_and_a_tampered_body_it_refuses()
    {
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = Body(3);
        var (code, signature) = await NodePeer.PeerAsync(["sign", _secret.ToString(), id, timestamp.ToString()], body);
        Assert.Equal(0, code);
        Assert.StartsWith("v1,", signature, StringComparison.Ordinal);

        using var accepted = await ReceiverHost.PostAsync(_http, body, id, timestamp, signature);
        Assert.Equal(HttpStatusCode.NoContent, accepted.StatusCode);
        Assert.Equal(3, Assert.Single(_state.Handled).Data.N);

        using var refused = await ReceiverHost.PostAsync(_http, Body(4), "msg_other", timestamp, signature);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Single(_state.Handled);
    }
}
