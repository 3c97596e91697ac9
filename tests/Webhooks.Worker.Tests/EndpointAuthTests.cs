using System.Text;
using Npgsql;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>
/// Endpoint authentication through the shared worker: the receiver (a real Kestrel on loopback) refuses with 401 what
/// does not carry the credentials it expects, so a delivery succeeds only if the worker sent them.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class EndpointAuthTests(StackFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private async Task<Scenario> ScenarioAsync(EndpointAuthIn auth, Func<string?, bool> accepts, int[]? schedule = null)
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        return await Scenario.CreateAsync(api, e => e with { Auth = auth, RetrySchedule = schedule },
            r => Task.FromResult(accepts(r.Headers.GetValueOrDefault("authorization")) ? (int?)null : 401));
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    [Fact]
    public async Task Basic_credentials_reach_the_receiver_and_the_attempt_log_shows_them_redacted()
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await using var s = await ScenarioAsync(new EndpointAuthIn("basic", Username: "acme", Password: password), h => h == Basic("acme", password));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", Wait);

        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal("[redacted]", attempt.RequestHeaders!["authorization"]);
        Assert.DoesNotContain(attempt.RequestHeaders.Values, v => v.Contains(password, StringComparison.Ordinal) || v.Contains("Basic ", StringComparison.Ordinal));
        Assert.Equal(Basic("acme", password), s.Receiver.Requests.Single().Headers["authorization"]);
    }

    [Fact]
    public async Task A_header_credential_reaches_the_receiver_over_a_custom_header_of_the_same_name_and_is_redacted()
    {
        var value = "v-" + Guid.NewGuid().ToString("N");
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        await using var s = await Scenario.CreateAsync(api,
            e => e with { Auth = new EndpointAuthIn("header", Name: "X-Tenant-Proof", Value: value), Headers = new Dictionary<string, string> { ["x-tenant-proof"] = "custom" } },
            r => Task.FromResult(r.Headers.GetValueOrDefault("x-tenant-proof") == value ? (int?)null : 401));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", Wait);

        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal("[redacted]", attempt.RequestHeaders!["x-tenant-proof"]);
        Assert.Equal(value, s.Receiver.Requests.Single().Headers["x-tenant-proof"]);
    }

    [Fact]
    public async Task Credentials_are_never_returned_by_the_api_and_are_stored_encrypted()
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await using var s = await ScenarioAsync(new EndpointAuthIn("basic", Username: "acme", Password: password), _ => true);
        var stack = fixture.Stack;
        using var http = (await stack.ApiAsync()).Http();
        var bodies = new[]
        {
            await http.GetStringAsync($"api/v1/apps/{s.App.Id}/endpoints/{s.Endpoint.Id}"),
            await http.GetStringAsync($"api/v1/apps/{s.App.Id}/endpoints"),
            System.Text.Json.JsonSerializer.Serialize(s.Endpoint),
        };
        Assert.All(bodies, b => Assert.DoesNotContain(password, b, StringComparison.Ordinal));
        var shown = (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Auth;
        Assert.Equal(new EndpointAuthOut("basic", Username: "acme"), shown);

        await using var connection = new NpgsqlConnection(stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT auth, auth_summary FROM endpoints WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", s.Endpoint.Id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var stored = reader.GetString(0);
        Assert.StartsWith("dp1:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(password, stored, StringComparison.Ordinal);
        Assert.DoesNotContain("acme", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(password, reader.GetString(1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_update_that_leaves_the_secret_out_keeps_it_but_not_when_the_endpoint_moves_elsewhere()
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await using var s = await ScenarioAsync(new EndpointAuthIn("basic", Username: "acme", Password: password), h => h == Basic("acme", password));
        var url = s.Receiver.WebhookUrl.ToString();
        await s.Api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id,
            new EndpointUpdateIn(url, EventTypes: ["order.created"], Auth: new EndpointAuthIn("basic", Username: "acme")));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", Wait);

        // Another origin: whoever points the credentials at a new server must know them.
        var moved = await Assert.ThrowsAnyAsync<Refit.ApiException>(() => s.Api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id,
            new EndpointUpdateIn("http://127.0.0.2:9/elsewhere", Auth: new EndpointAuthIn("basic", Username: "acme"))));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, moved.StatusCode);
        Assert.Contains("auth.password", moved.Content, StringComparison.Ordinal);
        Assert.Equal(url, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Url);

        // Null removes it: the receiver now refuses.
        await s.Api.UpdateEndpointAsync(s.App.Id, s.Endpoint.Id, new EndpointUpdateIn(url, EventTypes: ["order.created"], RetrySchedule: [0]));
        Assert.Null((await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Auth);
        var refused = await s.PublishAsync(2);
        await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(refused.Id)).Any(a => a.ResponseStatus == 401), Wait, "the attempt without credentials is refused");
    }

    [Fact]
    public async Task An_oauth2_token_is_fetched_once_and_sent_as_bearer_to_every_delivery()
    {
        await using var tokens = await TokenServer.StartAsync();
        await using var s = await ScenarioAsync(
            new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret,
                Scope: "webhooks:write", Audience: "https://receiver.example"),
            h => h is not null && tokens.Issued.Any(t => h == "Bearer " + t));
        var messages = await s.PublishManyAsync(6);
        foreach (var message in messages)
        {
            await s.WaitForStatusAsync(message.Id, "succeeded", Wait);
        }
        Assert.Equal(1, tokens.Requests);
        Assert.Equal("webhooks:write", tokens.LastForm!["scope"]);
        Assert.Equal("https://receiver.example", tokens.LastForm["audience"]);
        var token = Assert.Single(tokens.Issued);
        Assert.All(s.Receiver.Requests, r => Assert.Equal("Bearer " + token, r.Headers["authorization"]));
        var attempts = await s.AttemptsAsync(messages[0].Id);
        Assert.Equal("[redacted]", Assert.Single(attempts).RequestHeaders!["authorization"]);
        Assert.Equal(new EndpointAuthOut("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId,
            Scope: "webhooks:write", Audience: "https://receiver.example"), (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Id)).Auth);
    }

    [Fact]
    public async Task An_expired_token_is_replaced_before_it_is_sent()
    {
        await using var tokens = await TokenServer.StartAsync();
        tokens.ExpiresIn = 1;
        await using var s = await ScenarioAsync(
            new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret),
            h => h is not null && h == "Bearer " + tokens.Issued.LastOrDefault());
        var first = await s.PublishAsync(1);
        await s.WaitForStatusAsync(first.Id, "succeeded", Wait);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the token's whole life
        var second = await s.PublishAsync(2);
        await s.WaitForStatusAsync(second.Id, "succeeded", Wait);
        Assert.Equal(2, tokens.Requests);
        Assert.False(Assert.Single(await s.AttemptsAsync(second.Id)).TokenRefreshed);
    }

    [Fact]
    public async Task A_token_the_receiver_refuses_is_refreshed_once_within_the_same_attempt()
    {
        await using var tokens = await TokenServer.StartAsync();
        var revoked = new System.Collections.Concurrent.ConcurrentBag<string>();
        await using var s = await ScenarioAsync(
            new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret),
            h => h is not null && tokens.Issued.Any(t => h == "Bearer " + t && !revoked.Contains(t)));
        var first = await s.PublishAsync(1);
        await s.WaitForStatusAsync(first.Id, "succeeded", Wait);
        revoked.Add(Assert.Single(tokens.Issued));

        var second = await s.PublishAsync(2);
        await s.WaitForStatusAsync(second.Id, "succeeded", Wait);
        var attempt = Assert.Single(await s.AttemptsAsync(second.Id));
        Assert.True(attempt.TokenRefreshed);
        Assert.Equal(204, attempt.ResponseStatus);
        Assert.Equal(2, tokens.Requests);
        Assert.False(Assert.Single(await s.AttemptsAsync(first.Id)).TokenRefreshed);
    }

    [Fact]
    public async Task A_token_endpoint_that_is_down_gives_auth_attempts_and_the_delivery_is_retried_until_it_is_back()
    {
        var port = Webhooks.Testing.Processes.LocalPostgres.FreePort();
        var secret = "s3cret-" + Guid.NewGuid().ToString("N");
        var tokenUrl = $"http://127.0.0.1:{port}/oauth/token";
        TokenServer? tokens = null;
        try
        {
            await using var s = await ScenarioAsync(
                new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokenUrl, ClientId: "client-1", ClientSecret: secret),
                h => h is not null && tokens is not null && tokens.Issued.Any(t => h == "Bearer " + t),
                schedule: [0, 1, 1, 1, 1, 1, 1, 1]);
            var message = await s.PublishAsync(1);
            await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(message.Id)).Count >= 1, Wait, "a first attempt is recorded");
            tokens = await TokenServer.StartAsync(port, secret);
            await s.WaitForStatusAsync(message.Id, "succeeded", Wait);

            var attempts = await s.AttemptsAsync(message.Id);
            var failed = attempts.Where(a => !a.Succeeded).ToList();
            Assert.NotEmpty(failed);
            Assert.All(failed, a =>
            {
                Assert.Equal("auth", a.ErrorKind);
                Assert.Null(a.ResponseStatus);
                Assert.Contains("could not be reached", a.ErrorMessage, StringComparison.Ordinal);
            });
            Assert.DoesNotContain(s.Receiver.Requests, r => r.Headers.GetValueOrDefault("authorization") is null);
            Assert.Equal(attempts.Count, (await s.DeliveryAsync(message.Id)).AttemptCount);
        }
        finally
        {
            if (tokens is not null)
            {
                await tokens.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_token_endpoint_that_stalls_past_the_endpoint_timeout_is_an_auth_attempt()
    {
        await using var tokens = await TokenServer.StartAsync();
        tokens.Stall = TimeSpan.FromSeconds(30);
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        await using var s = await Scenario.CreateAsync(api, e => e with
        {
            Auth = new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret),
            RetrySchedule = [0],
            TimeoutSeconds = 1,
        });
        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(message.Id)).Count >= 1, Wait, "the attempt is recorded");
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal("auth", attempt.ErrorKind);
        Assert.Contains("within the endpoint's timeout (1 s)", attempt.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(s.Receiver.Requests);
    }

    [Theory]
    [InlineData(200, "not json at all", "did not answer with JSON")]
    [InlineData(200, "{\"token_type\":\"Bearer\",\"expires_in\":60}", "without a usable access_token")]
    [InlineData(200, "{\"access_token\":\"a\\r\\nX-Injected: 1\",\"token_type\":\"Bearer\"}", "without a usable access_token")]
    [InlineData(200, "{\"access_token\":\"abc\",\"token_type\":\"mac\"}", "not Bearer")]
    [InlineData(401, "{\"error\":\"invalid_client\"}", "answered 401: invalid_client")]
    [InlineData(503, "", "answered 503")]
    public async Task A_token_endpoint_answer_without_a_usable_token_is_an_auth_attempt(int status, string body, string expected)
    {
        await using var tokens = await TokenServer.StartAsync();
        tokens.Answer = () => (status, body);
        await using var s = await ScenarioAsync(
            new EndpointAuthIn("oauth2-client-credentials", TokenUrl: tokens.TokenUrl.ToString(), ClientId: tokens.ClientId, ClientSecret: tokens.ClientSecret),
            _ => true, schedule: [0]);
        var message = await s.PublishAsync(1);
        await Eventually.HoldsAsync(async () => (await s.AttemptsAsync(message.Id)).Count >= 1, Wait, "the attempt is recorded");
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal("auth", attempt.ErrorKind);
        Assert.Contains(expected, attempt.ErrorMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(tokens.ClientSecret, attempt.ErrorMessage, StringComparison.Ordinal);
        await s.SentinelDeliveredAsync();
        Assert.Empty(s.Receiver.Requests);
    }
}
