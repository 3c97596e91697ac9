using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Webhooks.Receiver.Sdk.Redis;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>Two receiver instances sharing the suite's real Redis.</summary>
[Collection(StackFixture.Collection)]
public sealed class DistributedReplayTests(StackFixture fixture)
{
    [Fact]
    public async Task A_webhook_replayed_to_two_instances_sharing_redis_is_handled_once()
    {
        var secret = WebhookSecret.Generate();
        var state = new FlakyHandler.State();
        var prefix = $"test:{Guid.NewGuid():N}:";
        void UseRedis(WebhookReceiverBuilder r) => r.UseRedisReplayStore(fixture.Stack.RedisConnectionString, o => o.KeyPrefix = prefix);
        var (first, firstHttp) = await ReceiverHost.StartAsync(secret, state, UseRedis);
        var (second, secondHttp) = await ReceiverHost.StartAsync(secret, state, UseRedis);
        await using (first)
        await using (second)
        {
            var body = Encoding.UTF8.GetBytes("{\"type\":\"order.created\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":5}}");
            // The same signed request, to both instances at once and then again to each.
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var signature = SignatureScheme.Sign(secret, "msg_shared", timestamp, body);
            var answers = await Task.WhenAll(
                ReceiverHost.PostAsync(firstHttp, body, "msg_shared", timestamp, signature),
                ReceiverHost.PostAsync(secondHttp, body, "msg_shared", timestamp, signature));
            var later = await Task.WhenAll(
                ReceiverHost.PostAsync(firstHttp, body, "msg_shared", timestamp, signature),
                ReceiverHost.PostAsync(secondHttp, body, "msg_shared", timestamp, signature));

            Assert.Single(state.Handled);
            // One handled it (204); the concurrent twin was told to retry (503) or saw it done (200); replays are 200.
            Assert.Contains(answers, a => a.StatusCode == HttpStatusCode.NoContent);
            Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable }));
            Assert.All(later, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));

            // Kept past the sender's retries (the default 72 h), not just the tolerance window.
            await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Stack.RedisConnectionString);
            var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(prefix + "msg_shared");
            Assert.InRange(ttl!.Value, TimeSpan.FromHours(72) - TimeSpan.FromMinutes(1), TimeSpan.FromHours(72));
        }
    }

    [Fact]
    public async Task A_failed_first_attempt_is_released_so_the_retry_on_another_instance_is_handled()
    {
        var secret = WebhookSecret.Generate();
        var state = new FlakyHandler.State { FailuresLeft = 1 };
        var prefix = $"test:{Guid.NewGuid():N}:";
        void UseRedis(WebhookReceiverBuilder r) => r.UseRedisReplayStore(fixture.Stack.RedisConnectionString, o => o.KeyPrefix = prefix);
        var (first, firstHttp) = await ReceiverHost.StartAsync(secret, state, UseRedis);
        var (second, secondHttp) = await ReceiverHost.StartAsync(secret, state, UseRedis);
        await using (first)
        await using (second)
        {
            var body = Encoding.UTF8.GetBytes("{\"type\":\"order.created\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":6}}");
            using var failed = await ReceiverHost.PostSignedAsync(firstHttp, secret, body, "msg_retry");
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
            using var retried = await ReceiverHost.PostSignedAsync(secondHttp, secret, body, "msg_retry");
            Assert.Equal(HttpStatusCode.NoContent, retried.StatusCode);
            Assert.Single(state.Handled);
        }
    }
}

public sealed class ConfigurationTests
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"type\":\"order.created\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":1}}");

    [Fact]
    public async Task A_rotated_secret_in_configuration_takes_effect_without_a_restart()
    {
        var old = WebhookSecret.Generate();
        var rotated = WebhookSecret.Generate();
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(old, state);
        await using (app)
        {
            using (var before = await ReceiverHost.PostSignedAsync(http, rotated, Body, "msg_a"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, before.StatusCode);
            }

            var configuration = (IConfigurationRoot)app.Services.GetRequiredService<IConfiguration>();
            configuration["Webhooks:Receiver:Secrets:0"] = rotated.ToString();
            configuration["Webhooks:Receiver:Secrets:1"] = old.ToString();
            configuration.Reload();

            using var withRotated = await ReceiverHost.PostSignedAsync(http, rotated, Body, "msg_b");
            using var withOld = await ReceiverHost.PostSignedAsync(http, old, Body, "msg_c");
            Assert.Equal(HttpStatusCode.NoContent, withRotated.StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, withOld.StatusCode);

            var next = WebhookSecret.Generate();
            configuration["Webhooks:Receiver:Secrets:1"] = next.ToString();
            configuration.Reload();
            using var retired = await ReceiverHost.PostSignedAsync(http, old, Body, "msg_d");
            Assert.Equal(HttpStatusCode.Unauthorized, retired.StatusCode);

            // A malformed reload does not take the receiver down: the last valid secrets stay in use, all of them
            // (the one the malformed entry replaced too).
            configuration["Webhooks:Receiver:Secrets:1"] = "whsec_not base64";
            configuration.Reload();
            using var stillValid = await ReceiverHost.PostSignedAsync(http, rotated, Body, "msg_e");
            Assert.Equal(HttpStatusCode.NoContent, stillValid.StatusCode);
            using var stillKept = await ReceiverHost.PostSignedAsync(http, next, Body, "msg_f");
            Assert.Equal(HttpStatusCode.NoContent, stillKept.StatusCode);
        }
    }

    [Fact]
    public async Task The_middleware_form_handles_its_path_and_passes_the_rest_on()
    {
        var secret = WebhookSecret.Generate();
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(secret, state, middleware: true);
        await using (app)
        {
            using var handled = await ReceiverHost.PostSignedAsync(http, secret, Body, "msg_mw");
            Assert.Equal(HttpStatusCode.NoContent, handled.StatusCode);
            Assert.Single(state.Handled);
            using var other = await http.PostAsync("/elsewhere", new ByteArrayContent(Body));
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }
    }
}
