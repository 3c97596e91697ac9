using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>The retry rules, against a receiver whose answers each test sets, through the shared worker.</summary>
[Collection(StackFixture.Collection)]
public sealed class RetryTests(StackFixture fixture)
{
    private async Task<Scenario> ScenarioAsync(int[]? schedule, Func<ReceivedRequest, Task<int?>> respond, int? timeoutSeconds = null)
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        return await Scenario.CreateAsync(api, e => e with { RetrySchedule = schedule, TimeoutSeconds = timeoutSeconds }, respond);
    }

    private static Func<ReceivedRequest, Task<int?>> FailFirst(int failures, int status)
    {
        var seen = 0;
        return _ => Task.FromResult(Interlocked.Increment(ref seen) <= failures ? status : (int?)null);
    }

    [Fact]
    public async Task Retries_after_503_with_the_same_webhook_id_and_a_fresh_timestamp_and_signature()
    {
        await using var s = await ScenarioAsync([0, 2], FailFirst(1, 503));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));

        var requests = s.Receiver.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.All(requests, r => Assert.Equal(message.Id, r.Headers["webhook-id"]));
        Assert.NotEqual(requests[0].Headers["webhook-timestamp"], requests[1].Headers["webhook-timestamp"]);
        Assert.NotEqual(requests[0].Headers["webhook-signature"], requests[1].Headers["webhook-signature"]);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Single(s.Receiver.Handled);

        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal([503, 204], attempts.Select(a => a.ResponseStatus ?? 0));
        Assert.Equal([false, true], attempts.Select(a => a.Succeeded));
        var delivery = await s.DeliveryAsync(message.Id);
        Assert.Equal(2, delivery.AttemptCount);
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(502)]
    public async Task Retries_on_retryable_statuses(int status)
    {
        await using var s = await ScenarioAsync([0, 1], FailFirst(1, status));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        Assert.Equal(2, (await s.AttemptsAsync(message.Id)).Count);
    }

    [Fact]
    public async Task Retry_after_header_is_honoured_when_longer_than_the_schedule()
    {
        await using var s = await ScenarioAsync([0, 1], FailFirst(1, 429));
        s.Receiver.RetryAfterSeconds = 4;
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        var requests = s.Receiver.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.InRange((requests[1].ReceivedAt - requests[0].ReceivedAt).TotalSeconds, 3.9, 15);
    }

    [Fact]
    public async Task Retry_after_beyond_six_hours_is_capped_at_six_hours()
    {
        await using var s = await ScenarioAsync([0, 1], FailFirst(1, 503));
        s.Receiver.RetryAfterSeconds = 86400;
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "failed", TimeSpan.FromSeconds(20));
        var delivery = await s.DeliveryAsync(message.Id);
        Assert.Equal(1, delivery.AttemptCount);
        // Both times are the database's, written by the same statement: next attempt = recorded + the wait.
        var wait = delivery.NextAttemptAt!.Value - delivery.UpdatedAt;
        Assert.InRange(wait, TimeSpan.FromHours(6) - TimeSpan.FromSeconds(1), TimeSpan.FromHours(6) + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task The_application_retry_schedule_drives_deliveries_to_its_endpoints_without_one_of_their_own()
    {
        await using var s = await ScenarioAsync(null, _ => Task.FromResult<int?>(500));
        var app = await s.Api.UpdateApplicationAsync(s.App.Id, new Client.ApplicationIn(s.App.Name, s.App.Uid, [0, 1, 1]));
        Assert.Equal([0, 1, 1], app.RetrySchedule!);
        // An endpoint's own schedule wins over the application's.
        var own = await s.Api.CreateEndpointAsync(s.App.Id, new Client.EndpointIn(s.Receiver.WebhookUrl + "?own", Secret: s.Secret,
            EventTypes: ["order.created"], RetrySchedule: [0]));

        var message = await s.PublishAsync(1);
        // The default schedule would wait 5 s, then 5 min: three attempts within the wait prove the application's drove it.
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(30), s.Endpoint.Id);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(30), own.Id);
        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal(3, attempts.Count(a => a.EndpointId == s.Endpoint.Id));
        Assert.Equal(1, attempts.Count(a => a.EndpointId == own.Id));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(404)]
    [InlineData(422)]
    public async Task Client_errors_are_not_retried_and_leave_the_delivery_exhausted(int status)
    {
        // Retries due at once: were a 4xx retried, the retry would be claimed before the sentinel published after it.
        await using var s = await ScenarioAsync([0, 0, 0], _ => Task.FromResult<int?>(status));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        await s.SentinelDeliveredAsync();
        Assert.Single(s.Receiver.Requests);
        Assert.Equal(status, Assert.Single(await s.AttemptsAsync(message.Id)).ResponseStatus);
    }

    [Fact]
    public async Task Redirects_are_failures_and_never_followed()
    {
        await using var s = await ScenarioAsync([0], r => Task.FromResult<int?>(r.Path == "/webhooks" ? 302 : 200));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        await s.SentinelDeliveredAsync();
        Assert.Equal("/webhooks", Assert.Single(s.Receiver.Requests).Path);
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal(302, attempt.ResponseStatus);
        Assert.False(attempt.Succeeded);
    }

    [Fact]
    public async Task The_last_failed_attempt_exhausts_the_delivery()
    {
        await using var s = await ScenarioAsync([0, 1, 1], _ => Task.FromResult<int?>(500));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        Assert.Equal(3, (await s.AttemptsAsync(message.Id)).Count);
        Assert.Equal(3, s.Receiver.Requests.Count);
    }

    [Fact]
    public async Task Timeout_is_a_retryable_failure_recorded_with_its_duration()
    {
        var seen = 0;
        await using var s = await ScenarioAsync([0, 1], async _ =>
        {
            if (Interlocked.Increment(ref seen) == 1)
            {
                await Task.Delay(TimeSpan.FromSeconds(5));
                return 200;
            }
            return null;
        }, timeoutSeconds: 1);
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal("timeout", attempts[0].ErrorKind);
        // Cut at the endpoint's timeout (1 s), not before; the receiver's late 200 is not taken for an answer.
        Assert.True(attempts[0].DurationMs >= 900, $"cut after {attempts[0].DurationMs} ms");
        Assert.Null(attempts[0].ResponseStatus);
        Assert.False(attempts[0].Succeeded);
        Assert.True(attempts[1].Succeeded);
    }

    [Fact]
    public async Task Response_body_is_kept_truncated_to_4_KiB()
    {
        await using var s = await ScenarioAsync([0], _ => Task.FromResult<int?>(500));
        s.Receiver.ResponseBody = new string('x', 10_000);
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(20));
        var attempt = Assert.Single(await s.AttemptsAsync(message.Id));
        Assert.Equal(4096, attempt.ResponseBody!.Length);
        Assert.Equal("500", attempt.ResponseStatus.ToString());
    }

    [Fact]
    public async Task During_a_secret_rotation_each_request_carries_both_signatures()
    {
        await using var s = await ScenarioAsync([0], _ => Task.FromResult<int?>(null));
        var rotated = await s.Api.RotateEndpointSecretAsync(s.App.Id, s.Endpoint.Id, new Client.RotateSecretIn());
        Assert.Equal(s.Secret, rotated.PreviousKey);
        Assert.NotEqual(s.Secret, rotated.Key);

        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        var request = Assert.Single(s.Receiver.Requests);
        var signatures = request.Headers["webhook-signature"];
        Assert.Equal(2, signatures.Split(' ').Length);
        foreach (var secret in new[] { rotated.Key, s.Secret })
        {
            Assert.Equal(VerificationResult.Valid, SignatureScheme.Verify(
                [WebhookSecret.Parse(secret)], message.Id, request.Headers["webhook-timestamp"], signatures, request.Body,
                DateTimeOffset.UtcNow, SignatureScheme.DefaultTolerance));
        }
    }

    [Fact]
    public async Task After_its_overlap_the_previous_secret_no_longer_signs()
    {
        // The receiver answers 200 without verifying (it knows only the old secret); the test checks the signatures.
        await using var s = await ScenarioAsync([0], _ => Task.FromResult<int?>(200));
        var rotated = await s.Api.RotateEndpointSecretAsync(s.App.Id, s.Endpoint.Id, new Client.RotateSecretIn());
        // The overlap (24 h) is over.
        await using (var connection = new Npgsql.NpgsqlConnection(fixture.Stack.PostgresConnectionString))
        {
            await connection.OpenAsync();
            await using var expire = new Npgsql.NpgsqlCommand(
                "UPDATE endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = @id", connection);
            expire.Parameters.AddWithValue("id", s.Endpoint.Id);
            Assert.Equal(1, await expire.ExecuteNonQueryAsync());
        }

        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        var request = Assert.Single(s.Receiver.Requests);
        var signatures = request.Headers["webhook-signature"];
        Assert.Single(signatures.Split(' '));
        VerificationResult VerifiedWith(string secret) => SignatureScheme.Verify([WebhookSecret.Parse(secret)], message.Id,
            request.Headers["webhook-timestamp"], signatures, request.Body, DateTimeOffset.UtcNow, SignatureScheme.DefaultTolerance);
        Assert.Equal(VerificationResult.Valid, VerifiedWith(rotated.Key));
        Assert.NotEqual(VerificationResult.Valid, VerifiedWith(s.Secret));
    }

    [Fact]
    public async Task Worker_exports_attempts_by_outcome_their_duration_and_the_due_backlog()
    {
        // A worker of its own: the counts are this test's attempts only.
        await using var isolated = await fixture.Stack.IsolatedAsync();
        await using var s = await Scenario.CreateAsync(isolated.Client(), e => e with { RetrySchedule = [0, 1] }, FailFirst(1, 503));
        var message = await s.PublishAsync(1);
        await s.WaitForStatusAsync(message.Id, "succeeded", TimeSpan.FromSeconds(20));
        var worker = isolated.Workers[0];
        using var http = worker.Http();
        using (var anonymous = new HttpClient { BaseAddress = worker.Url })
        {
            // Metrics name the database and count every route: only the operator's key reads them.
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        }
        string metrics = "";
        await Eventually.HoldsAsync(async () =>
            {
                metrics = await http.GetStringAsync("/metrics");
                return metrics.Contains("webhooks_delivery_due_backlog", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(30), "the worker exports the due backlog");
        Assert.Matches("webhooks_delivery_attempts_total\\{[^}]*outcome=\"retryable\"[^}]*\\} 1\\s", metrics);
        Assert.Matches("webhooks_delivery_attempts_total\\{[^}]*outcome=\"succeeded\"[^}]*\\} 1\\s", metrics);
        Assert.Matches("webhooks_delivery_attempt_duration_milliseconds_count(\\{[^}]*\\})? 2\\s", metrics);
    }

    [Fact]
    public async Task Attempt_continues_the_trace_of_the_publish_request_and_records_its_trace_id()
    {
        await using var s = await ScenarioAsync([0], _ => Task.FromResult<int?>(null));
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var api = await fixture.Stack.ApiAsync();
        using var http = api.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{s.App.Id}/messages")
        {
            Content = new StringContent("{\"eventType\":\"order.created\",\"payload\":{\"n\":1}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{traceId[..16]}-01");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.HoldsAsync(() => !s.Receiver.Requests.IsEmpty, TimeSpan.FromSeconds(20), "the webhook arrives");
        var traceparent = Assert.Single(s.Receiver.Requests).Headers["traceparent"];
        Assert.Equal(traceId, traceparent.Split('-')[1]);

        // The attempt keeps the trace id, which the dashboard links to a trace viewer.
        var messageId = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await using var dataSource = NpgsqlDataSource.Create(fixture.Stack.PostgresConnectionString);
        string? recorded = null;
        await Eventually.HoldsAsync(async () =>
        {
            await using var command = dataSource.CreateCommand("SELECT trace_id FROM delivery_attempts WHERE message_id = $1");
            command.Parameters.AddWithValue(messageId);
            recorded = await command.ExecuteScalarAsync() as string;
            return recorded is not null;
        }, TimeSpan.FromSeconds(20), "the attempt is recorded");
        Assert.Equal(traceId, recorded);
    }
}
