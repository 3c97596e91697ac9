using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Npgsql;
using Webhooks.Testing.Processes;
using Webhooks.Client;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Receiver.Sdk;
using Webhooks.Testing;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Tests;

/// <summary>
/// The promise a webhook platform is trusted for: every accepted message is delivered or visibly ends exhausted, every
/// attempt is on record, no delivery is sent more often than its schedule allows, no tenant starves another.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class PromiseTests(StackFixture fixture)
{
    [Theory]
    [InlineData(HostileMode.TruncatedBody, "response")]
    [InlineData(HostileMode.InvalidChunking, "response")]
    [InlineData(HostileMode.ResetAfterHeaders, "response")]
    [InlineData(HostileMode.Garbage, "connection")]
    [InlineData(HostileMode.CloseWithoutAnswer, "connection")]
    public async Task Whatever_a_receiver_answers_every_attempt_is_recorded_and_the_schedule_bounds_the_sends(HostileMode mode, string errorKind)
    {
        await fixture.Stack.WorkerAsync();
        var api = await fixture.Stack.AdminClientAsync();
        await using var hostile = HostileReceiver.Start(mode);
        var app = await api.CreateApplicationAsync(new ApplicationIn("hostile " + mode));
        var endpoint = await api.CreateEndpointAsync(app.Id, new EndpointIn(hostile.Url.ToString(), TimeoutSeconds: 5, RetrySchedule: [0, 1, 1]));
        var message = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 })));

        await Eventually.HoldsAsync(async () => (await api.ListDeliveriesAsync(app.Id, message.Id)).Data.Single().Status == "exhausted",
            TimeSpan.FromSeconds(60), "the delivery ends exhausted after its three attempts");

        var attempts = (await api.ListAttemptsAsync(app.Id, message.Id)).Data;
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.False(a.Succeeded);
            Assert.Equal(errorKind, a.ErrorKind);
            Assert.False(string.IsNullOrEmpty(a.ErrorMessage));
        });
        Assert.Equal(3, (await api.ListDeliveriesAsync(app.Id, message.Id)).Data.Single().AttemptCount);
        Assert.Equal(3, hostile.Requests.Count(id => id == message.Id));
        Assert.Equal(3, (await api.GetEndpointAsync(app.Id, endpoint.Id)).ConsecutiveFailures);
    }

    [Theory]
    [InlineData(BrokenTlsMode.UntrustedCertificate)]
    [InlineData(BrokenTlsMode.GarbageHandshake)]
    public async Task A_failed_tls_handshake_is_recorded_as_tls_retried_on_the_schedule_and_exhausted(BrokenTlsMode mode)
    {
        await fixture.Stack.WorkerAsync();
        await using var tls = BrokenTlsReceiver.Start(mode);
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { Url = tls.Url.ToString(), TimeoutSeconds = 5, RetrySchedule = [0, 1] });
        var message = await s.PublishAsync(1);

        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(60));
        await s.SentinelDeliveredAsync();

        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.False(a.Succeeded);
            Assert.Null(a.ResponseStatus);
            Assert.Equal("tls", a.ErrorKind);
            Assert.False(string.IsNullOrEmpty(a.ErrorMessage));
        });
        Assert.Equal(2, (await s.DeliveryAsync(message.Id)).AttemptCount);
        // One connection per attempt and none after the schedule was spent (the sentinel went out after it).
        Assert.Equal(2, tls.Connections);
        Assert.Equal(2, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Endpoint.Id)).ConsecutiveFailures);
    }

    [Fact]
    public async Task A_host_that_does_not_resolve_is_recorded_as_dns_retried_on_the_schedule_and_exhausted()
    {
        await fixture.Stack.WorkerAsync();
        // .invalid never resolves (RFC 6761); the API takes the URL, names are resolved when sending.
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(),
            e => e with { Url = "http://does-not-exist.invalid/webhooks", TimeoutSeconds = 5, RetrySchedule = [0, 1] });
        var message = await s.PublishAsync(1);

        await s.WaitForStatusAsync(message.Id, "exhausted", TimeSpan.FromSeconds(60));
        await s.SentinelDeliveredAsync();

        var attempts = await s.AttemptsAsync(message.Id);
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.False(a.Succeeded);
            Assert.Null(a.ResponseStatus);
            Assert.Equal("dns", a.ErrorKind);
            Assert.Contains("does-not-exist.invalid", a.ErrorMessage);
        });
        Assert.Equal(2, (await s.DeliveryAsync(message.Id)).AttemptCount);
        Assert.Equal(2, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Endpoint.Id)).ConsecutiveFailures);
    }

    [Fact]
    public async Task A_test_event_is_attempted_once_and_leaves_the_endpoint_health_alone()
    {
        await fixture.Stack.WorkerAsync();
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync(), respond: _ => Task.FromResult<int?>(503));
        var test = await s.Api.TestEndpointAsync(s.App.Id, s.Endpoint.Endpoint.Id, new EndpointTestIn("order.created"));
        Assert.Equal(503, test.Attempt!.ResponseStatus);

        var delivery = (await s.Api.ListDeliveriesAsync(s.App.Id, test.MessageId)).Data.Single();
        Assert.Equal("exhausted", delivery.Status);
        Assert.Null(delivery.NextAttemptAt);
        Assert.Equal(1, delivery.AttemptCount);
        Assert.Equal(0, (await s.Api.GetEndpointAsync(s.App.Id, s.Endpoint.Endpoint.Id)).ConsecutiveFailures);
    }

    [Fact]
    public async Task The_payload_is_delivered_byte_for_byte_as_published()
    {
        await fixture.Stack.WorkerAsync();
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync());
        // Key order, number spelling, white space and escapes that jsonb would have rewritten.
        const string payload = "{\"z\": 1.50,  \"a\":[1e3, -0.0,\n 10000000000000000000001], \"\\u00e9t\\u00e9\":\"caf\u00e9 \\\"q\\\"\" ,\"dup\":1}";
        using var http = (await fixture.Stack.ApiAsync()).Http();
        var body = $"{{\"eventType\":\"order.created\",\"payload\":{payload}}}";
        using var response = await http.PostAsync($"api/v1/apps/{s.App.Id}/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        await s.WaitForHandledAsync(1, TimeSpan.FromSeconds(20));
        var received = Encoding.UTF8.GetString(s.Receiver.Requests.Single().Body);
        Assert.EndsWith($",\"data\":{payload}}}", received, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_size_limit_counts_utf8_bytes_of_the_delivered_body_and_what_is_accepted_reaches_a_default_sdk_receiver()
    {
        await fixture.Stack.WorkerAsync();
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync());
        using var http = (await fixture.Stack.ApiAsync()).Http();
        // The envelope the receiver gets: {"type":"order.created","timestamp":"2026-11-25T12:00:00.000000Z","data":<payload>}
        var envelope = "{\"type\":\"order.created\",\"timestamp\":\"2026-11-25T12:00:00.000000Z\",\"data\":}".Length;
        const int limit = 1024 * 1024; // the SDK's default MaxBodyBytes
        string PayloadOf(int bodyBytes)
        {
            // "é" is two bytes in UTF-8: the payload is ~half as many characters as bytes.
            var fill = bodyBytes - envelope - "{\"s\":\"\"}".Length;
            return "{\"s\":\"" + new string('é', fill / 2) + new string('x', fill % 2) + "\"}";
        }
        async Task<HttpStatusCode> PublishAsync(string payload)
        {
            var body = $"{{\"eventType\":\"order.created\",\"payload\":{payload}}}";
            using var response = await http.PostAsync($"api/v1/apps/{s.App.Id}/messages", new StringContent(body, Encoding.UTF8, "application/json"));
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.BadRequest, await PublishAsync(PayloadOf(limit + 1)));
        Assert.Equal(HttpStatusCode.Accepted, await PublishAsync(PayloadOf(limit)));

        await s.WaitForHandledAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal(limit, s.Receiver.Requests.Single().Body.Length);
    }

    [Fact]
    public async Task One_tenants_hanging_endpoints_do_not_starve_another_tenant()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync();
        var api = isolated.Client();
        var secret = WebhookSecret.Generate().ToString();
        await using var hanging = await TestReceiver.StartAsync(secret);
        // The greedy tenant's endpoints answer only when the test lets them (within their 60 s timeout).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hanging.Respond = async _ =>
        {
            await release.Task;
            return 200;
        };
        var greedy = await api.CreateApplicationAsync(new ApplicationIn("greedy"));
        for (var i = 0; i < 10; i++)
        {
            await api.CreateEndpointAsync(greedy.Id, new EndpointIn(hanging.WebhookUrl + "?e=" + i, Secret: secret, TimeoutSeconds: 60));
        }
        await api.PublishBatchAsync(greedy.Id, new MessageBatchIn(
            Enumerable.Range(0, 100).Select(n => new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n }))).ToList()));
        // 10 endpoints × 16 per endpoint would take more than the worker's 128 slots.
        await Eventually.HoldsAsync(async () =>
        {
            TestStack.Log($"fairness: {hanging.Requests.Count} hanging, " + await isolated.QueryAsync<string>(
                "SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM deliveries GROUP BY status) s"));
            return hanging.Requests.Count >= 90;
        }, TimeSpan.FromSeconds(20), "the greedy tenant's requests hang in flight");

        await using var other = await Scenario.CreateAsync(api);
        var published = DateTimeOffset.UtcNow;
        await other.PublishAsync(1);
        await other.WaitForHandledAsync(1, TimeSpan.FromSeconds(30));
        var latency = other.Receiver.Handled.Single().ReceivedAt - published;
        TestStack.Log($"fairness: other tenant's publish to receipt {latency.TotalMilliseconds:0} ms with {hanging.Requests.Count} requests hanging");
        // Delivered while every one of the greedy tenant's requests was still held: none had ended (no attempt of it on
        // record), so the other tenant did not wait for a slot to free. Without a fair share it would wait for the first
        // hanging request's 60 s timeout. (How fast it arrives is the benchmark's to say, not this test's.)
        Assert.Equal(0L, await isolated.QueryAsync<long>("SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.application_id = @app", ("app", greedy.Id)));
        Assert.InRange(hanging.Requests.Count, 90, 96);
        release.SetResult();
    }

    [Fact]
    public async Task Leases_are_decided_on_the_database_clock_and_an_expired_one_is_recorded_as_an_attempt()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 0);
        var api = isolated.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("clock"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("http://127.0.0.1:9/webhooks", TimeoutSeconds: 15, RetrySchedule: [0, 60]));
        var message = await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 })));

        await using var dataSource = NpgsqlDataSource.Create(isolated.DatabaseConnectionString);
        var store = new DeliveryStore(dataSource);
        var limits = new DeliveryStore.ClaimLimits(10, 128, 16, 96, new Dictionary<string, int>(), new Dictionary<string, int>(), []);
        var claimed = Assert.Single(await store.ClaimAsync("worker-a", limits, 30, CancellationToken.None));
        Assert.Equal(message.Id, claimed.MessageId);
        // The lease ends timeout + margin after the database's now, whatever the worker's clock says.
        var leaseLeft = await isolated.QueryAsync<double>("SELECT extract(epoch FROM lease_expires_at - now())::float8 FROM deliveries");
        Assert.InRange(leaseLeft, 40, 45.5);

        // A sweeping worker whose clock runs an hour ahead does not take a live lease.
        var health = new DeliveryStore.HealthPolicy(10, TimeSpan.FromDays(5));
        Assert.Equal(0, await store.RecordExpiredLeasesAsync(RetrySchedule.Default, health, DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));
        Assert.Equal("in_flight", await isolated.QueryAsync<string>("SELECT status FROM deliveries"));

        // Once it has expired on the database's clock, the lost attempt is recorded and counted against the schedule.
        await isolated.QueryAsync<int>("WITH x AS (UPDATE deliveries SET lease_expires_at = now() - interval '1 second' RETURNING 1) SELECT 1");
        Assert.Equal(1, await store.RecordExpiredLeasesAsync(RetrySchedule.Default, health, DateTimeOffset.UtcNow.AddHours(-1), CancellationToken.None));
        var delivery = (await api.ListDeliveriesAsync(app.Id, message.Id)).Data.Single();
        Assert.Equal("failed", delivery.Status);
        Assert.Equal(1, delivery.AttemptCount);
        var attempt = (await api.ListAttemptsAsync(app.Id, message.Id)).Data.Single();
        Assert.Equal(DeliveryLifecycle.LeaseExpiredErrorKind, attempt.ErrorKind);
        // Retried per the endpoint's schedule (60 s), not at once; the worker's loss is not held against the endpoint.
        Assert.InRange(await isolated.QueryAsync<double>("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM deliveries"), 40, 75);
        Assert.Equal(0, await isolated.QueryAsync<int>("SELECT consecutive_failures FROM endpoints"));

        // The second lost attempt spends the schedule: exhausted, never sent again.
        await isolated.QueryAsync<int>("WITH x AS (UPDATE deliveries SET next_attempt_at = now() - interval '1 second' RETURNING 1) SELECT 1");
        Assert.Single(await store.ClaimAsync("worker-b", limits, 30, CancellationToken.None));
        await isolated.QueryAsync<int>("WITH x AS (UPDATE deliveries SET lease_expires_at = now() - interval '1 second' RETURNING 1) SELECT 1");
        Assert.Equal(1, await store.RecordExpiredLeasesAsync(RetrySchedule.Default, health, DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal("exhausted", (await api.ListDeliveriesAsync(app.Id, message.Id)).Data.Single().Status);
        Assert.Empty(await store.ClaimAsync("worker-c", limits, 30, CancellationToken.None));
    }

    [Fact]
    public async Task A_delivery_handed_back_unattempted_is_due_again_on_the_database_clock()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync(workers: 0);
        var api = isolated.Client();
        var app = await api.CreateApplicationAsync(new ApplicationIn("release"));
        await api.CreateEndpointAsync(app.Id, new EndpointIn("http://127.0.0.1:9/webhooks", TimeoutSeconds: 15));
        await api.PublishAsync(app.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 })));
        await using var dataSource = NpgsqlDataSource.Create(isolated.DatabaseConnectionString);
        var store = new DeliveryStore(dataSource);
        var limits = new DeliveryStore.ClaimLimits(10, 128, 16, 96, new Dictionary<string, int>(), new Dictionary<string, int>(), []);
        var claimed = Assert.Single(await store.ClaimAsync("worker-a", limits, 30, CancellationToken.None));

        // Handed back (say, rate-limited) for 600 s: due 600 s after the database's now, pending, nothing counted.
        await store.ReleaseAsync("worker-a", [(claimed.Id, TimeSpan.FromSeconds(600))], CancellationToken.None);
        Assert.InRange(await isolated.QueryAsync<double>("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM deliveries"), 590, 600.5);
        Assert.Equal("pending", await isolated.QueryAsync<string>("SELECT status FROM deliveries"));
        Assert.Equal(0, await isolated.QueryAsync<int>("SELECT attempt_count FROM deliveries"));
        Assert.Empty(await store.ClaimAsync("worker-b", limits, 30, CancellationToken.None));
    }

    [Fact]
    public async Task Deliveries_ignore_environment_proxies()
    {
        await using var s = await Scenario.CreateAsync(await fixture.Stack.AdminClientAsync());
        // A proxy that records who connects to it and answers nothing useful.
        var proxy = new TcpListener(IPAddress.Loopback, 0);
        proxy.Start();
        var proxied = 0;
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await proxy.AcceptTcpClientAsync();
                    Interlocked.Increment(ref proxied);
                }
            }
            catch (Exception)
            {
            }
        });
        var previous = HttpClient.DefaultProxy;
        // What HTTP_PROXY in the environment becomes; bypassing nothing, not even loopback.
        HttpClient.DefaultProxy = new WebProxy($"http://127.0.0.1:{((IPEndPoint)proxy.LocalEndpoint).Port}") { BypassProxyOnLocal = false };
        try
        {
            var sender = new WebhookSender(DeliveryHttp.Create(Options.Create(new DeliveryOptions { AllowPrivateNetworks = true })), TimeProvider.System,
                new SecretProtector(new EphemeralDataProtectionProvider()));
            var delivery = new ClaimedDelivery(1, 0, "msg_proxy", "order.created", "{\"n\":1}", DateTimeOffset.UtcNow, null, "ep_x", "app_x",
                s.Receiver.WebhookUrl.ToString(), s.Secret, null, null, [], 5, null, null);
            var result = await sender.SendAsync(delivery, CancellationToken.None);
            Assert.True(result.Attempt.Succeeded, result.Attempt.ErrorMessage);
            Assert.Equal(0, Volatile.Read(ref proxied));
            Assert.Single(s.Receiver.Requests);
        }
        finally
        {
            HttpClient.DefaultProxy = previous;
            proxy.Stop();
        }
    }

    [Theory]
    [InlineData("Webhooks.Api")]
    [InlineData("Webhooks.Worker")]
    public async Task Outside_development_a_service_without_a_key_ring_key_refuses_to_start_and_says_why(string service)
    {
        // Without the key, the data protection keys would lie in plain text beside the secrets they encrypt.
        var project = service == "Webhooks.Api" ? ServiceProject.Api(TestStack.BuildInfo.RepositoryRoot) : ServiceProject.Worker(TestStack.BuildInfo.RepositoryRoot);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var process = project.Start(service, TestStack.BuildInfo.Configuration, new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{LocalPostgres.FreePort()}",
            ["ConnectionStrings__webhooksdb"] = fixture.Stack.PostgresConnectionString,
            ["ConnectionStrings__redis"] = fixture.Stack.RedisConnectionString,
            ["Webhooks__AdminApiKey"] = fixture.Stack.AdminApiKey,
            ["Webhooks__KeyRingKey"] = null,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
        }, output.Enqueue);
        // Waits for the exit and for the end of its output.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains(output, line => line.Contains("Webhooks:KeyRingKey is not set. Outside Development it is required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signing_secrets_are_encrypted_at_rest_and_plain_ones_are_encrypted_at_start()
    {
        await using var isolated = await fixture.Stack.IsolatedAsync();
        await using var s = await Scenario.CreateAsync(isolated.Client());
        var stored = await isolated.QueryAsync<string>("SELECT secret FROM endpoints WHERE id = @id", ("id", s.Endpoint.Endpoint.Id));
        Assert.StartsWith("dp1:", stored);
        Assert.DoesNotContain(s.Secret["whsec_".Length..], stored);
        // The key ring itself is encrypted with the configured key: a dump of the database holds no usable key.
        var ring = await isolated.QueryAsync<string>("SELECT string_agg(xml, '') FROM data_protection_keys");
        Assert.Contains("encryptedKey", ring);
        Assert.DoesNotContain("<masterKey", ring);
        Assert.Equal(s.Secret, (await s.Api.GetEndpointSecretAsync(s.App.Id, s.Endpoint.Endpoint.Id)).Key);

        // A row stored in plain text before this version is encrypted when a service starts, and still signs.
        await isolated.QueryAsync<int>("WITH x AS (UPDATE endpoints SET secret = @plain RETURNING 1) SELECT 1", ("plain", s.Secret));
        await using (await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["ConnectionStrings__webhooksdb"] = isolated.DatabaseConnectionString }))
        {
        }
        Assert.StartsWith("dp1:", await isolated.QueryAsync<string>("SELECT secret FROM endpoints WHERE id = @id", ("id", s.Endpoint.Endpoint.Id)));
        await s.PublishAsync(1);
        await s.WaitForHandledAsync(1, TimeSpan.FromSeconds(20));
    }
}
