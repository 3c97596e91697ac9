using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Webhooks.Core.Data;
using Webhooks.Core.Delivery;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>
/// Both sides of <see cref="ReceiverAnswerTable"/>: a real receiver on Kestrel answers each situation as the table
/// says, and the delivery engine's own rules decide that answer as the table says. If either side drifts, a row fails.
/// </summary>
public sealed class ReceiverAnswerTableTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Theory]
    [MemberData(nameof(ReceiverAnswerTable.Situations), MemberType = typeof(ReceiverAnswerTable))]
    public async Task Each_situation_is_answered_and_decided_as_the_table_says(Situation situation)
    {
        var row = ReceiverAnswerTable.Row(situation);

        var answered = await DriveAsync(situation);

        Assert.Equal(row.Status, answered.Status);
        Assert.Equal(row.Engine, EngineDecides(answered.Status));
        // A refusal says why in problem details (the sender's attempt log keeps the body); a success has no body.
        Assert.Equal(row.Problem, answered.Problem);
        if (row.DetailNames is not null)
        {
            Assert.Contains(row.DetailNames, answered.Detail, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(answered.Detail);
        }
    }

    /// <summary>What came back: the status (null: no answer) and, when there is a body, the problem's title and detail.</summary>
    private sealed record Answer(int? Status, string? Problem, string? Detail);

    private static async Task<Answer> AnswerOf(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        return await AnswerOf(response);
    }

    private static async Task<Answer> AnswerOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0)
        {
            return new Answer((int)response.StatusCode, null, null);
        }
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = System.Text.Json.JsonDocument.Parse(text);
        Assert.Equal((int)response.StatusCode, problem.RootElement.GetProperty("status").GetInt32());
        return new Answer((int)response.StatusCode, problem.RootElement.GetProperty("title").GetString(), problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public void The_readme_table_says_what_the_test_table_says()
    {
        var readme = File.ReadAllLines(Path.Combine(TestStack.BuildInfo.RepositoryRoot, "Webhooks.Receiver.Sdk", "README.md"));
        var start = Array.FindIndex(readme, l => l.Contains("<!-- receiver-answers", StringComparison.Ordinal));
        Assert.True(start >= 0, "The README has no <!-- receiver-answers --> table.");
        var rows = readme.Skip(start + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2)
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .Select(c => (Description: c[0], Status: StatusIn(c[1]), Engine: c[2]))
            .ToList();

        var expected = ReceiverAnswerTable.Rows.Select(r => (r.Description, r.Status, ReceiverAnswerTable.Words(r.Engine))).ToList();
        Assert.Equal(expected, rows);
    }

    [Fact]
    public void The_in_progress_retry_after_never_delays_the_engine_past_its_own_schedule()
    {
        // The engine waits the longer of its schedule and Retry-After; its shortest retry delay is 5 s (±20 %).
        for (var seed = 0; seed < 50; seed++)
        {
            var decision = DeliveryLifecycle.Decide(1, AttemptOutcome.Retryable, WebhookReceiver.InProgressRetryAfter, RetrySchedule.Default, new Random(seed));
            Assert.InRange(decision.RetryIn!.Value, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(6));
        }
    }

    private static int? StatusIn(string answer) =>
        answer == "none" ? null : int.Parse(Regex.Match(answer, @"^\d{3}").Value, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The engine's decision after a first attempt answered <paramref name="status"/> (null: no answer).</summary>
    private static EngineDecision EngineDecides(int? status)
    {
        var decision = DeliveryLifecycle.Decide(1, DeliveryLifecycle.Classify(status), null, RetrySchedule.Default, new Random(1));
        return decision switch
        {
            { Status: DeliveryStatus.Succeeded } => EngineDecision.Succeeded,
            { Status: DeliveryStatus.Failed, RetryIn: not null } => EngineDecision.Retried,
            { Status: DeliveryStatus.Exhausted, DisableEndpoint: true } => EngineDecision.EndpointDisabled,
            { Status: DeliveryStatus.Exhausted } => EngineDecision.Exhausted,
            _ => throw new InvalidOperationException($"Unexpected engine decision {decision}."),
        };
    }

    private static async Task<Answer> DriveAsync(Situation situation)
    {
        var secret = WebhookSecret.Generate();
        var state = new FlakyHandler.State();
        var (app, http) = await ReceiverHost.StartAsync(secret, state, configure: situation == Situation.ReplayStoreFailed ? r => r.UseReplayStore<FailingReplayStore>() : null,
            options: o => o.MaxBodyBytes = 1024);
        await using (app)
        using (http)
        {
            var id = "msg_" + Guid.NewGuid().ToString("N");
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var body = ReceiverHost.OrderBody(1);
            Task<HttpResponseMessage> Send(byte[] bytes, CancellationToken ct = default) => ReceiverHost.PostSignedAsync(http, secret, bytes, id, ct);

            switch (situation)
            {
                case Situation.Handled:
                    return await AnswerOf(Send(body));

                case Situation.DuplicateOfHandled:
                    Assert.Equal(204, await StatusOf(Send(body)));
                    var duplicate = await AnswerOf(Send(body));
                    Assert.Equal(1, state.Calls);
                    return duplicate;

                case Situation.UnhandledEventType:
                    return await AnswerOf(Send(ReceiverHost.OrderBody(1, type: "invoice.paid")));

                case Situation.InProgress:
                {
                    var release = new TaskCompletionSource();
                    state.Hold = ct => release.Task.WaitAsync(ct);
                    var first = Send(body);
                    await state.Entered.Task.WaitAsync(Patience);
                    using var second = await Send(body);
                    Assert.Equal(WebhookReceiver.InProgressRetryAfter, second.Headers.RetryAfter?.Delta);
                    release.SetResult();
                    // The first request finishes the work; the sender's later retry is then a duplicate.
                    Assert.Equal(204, await StatusOf(first));
                    Assert.Equal(200, await StatusOf(Send(body)));
                    Assert.Equal(1, state.Calls);
                    return await AnswerOf(second);
                }

                case Situation.HandlerThrew:
                {
                    // A JsonException from the handler's own code: the handler failing, not the sender's data.
                    state.FailuresLeft = 1;
                    state.Failure = () => new System.Text.Json.JsonException("the handler's own parse failed");
                    var failed = await AnswerOf(Send(body));
                    // The id was not marked handled: the retry runs the handler again.
                    Assert.Equal(204, await StatusOf(Send(body)));
                    Assert.Equal(2, state.Calls);
                    return failed;
                }

                case Situation.SenderDisconnected:
                {
                    state.Hold = ct => Task.Delay(Timeout.Infinite, ct);
                    using var timeout = new CancellationTokenSource();
                    var abandoned = Send(body, timeout.Token);
                    await state.Entered.Task.WaitAsync(Patience);
                    await timeout.CancelAsync();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
                    state.Hold = null;
                    // The cancelled handler released the id: the retry runs it again (once the receiver has seen
                    // the disconnect; until then it is in progress and answered 503, which is retried as well).
                    Assert.Equal(204, await RetriedUntilNot503(() => Send(body)));
                    Assert.Equal(2, state.Calls);
                    return new Answer(null, null, null);
                }

                case Situation.ReplayStoreFailed:
                {
                    var status = await AnswerOf(Send(body));
                    Assert.Equal(0, state.Calls);
                    return status;
                }

                case Situation.DataDoesNotFit:
                    return await AnswerOf(Send(Encoding.UTF8.GetBytes("""{"type":"order.created","timestamp":"2026-01-01T00:00:00Z","data":{"n":"seven"}}""")));

                case Situation.MalformedBody:
                    return await AnswerOf(Send(Encoding.UTF8.GetBytes("not json")));

                case Situation.MissingHeaders:
                    return await AnswerOf(http.PostAsync("/webhooks", new ByteArrayContent(body)));

                case Situation.BadSignature:
                    return await AnswerOf(ReceiverHost.PostAsync(http, body, id, now, SignatureScheme.Sign(WebhookSecret.Generate(), id, now, body)));

                case Situation.StaleTimestamp:
                {
                    var stale = now - 301;
                    return await AnswerOf(ReceiverHost.PostAsync(http, body, id, stale, SignatureScheme.Sign(secret, id, stale, body)));
                }

                case Situation.TooLarge:
                    return await AnswerOf(Send(Encoding.UTF8.GetBytes(
                        "{\"type\":\"order.created\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"data\":{\"n\":1,\"note\":\"" + new string('x', 2000) + "\"}}")));

                default:
                    throw new ArgumentOutOfRangeException(nameof(situation), situation, "No way to drive this situation yet: add one.");
            }
        }
    }

    private static async Task<int> StatusOf(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        return (int)response.StatusCode;
    }

    private static async Task<int> RetriedUntilNot503(Func<Task<HttpResponseMessage>> send)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (true)
        {
            var status = await StatusOf(send());
            if (status != 503)
            {
                return status;
            }
            await Task.Delay(50, deadline.Token);
        }
    }
}

/// <summary>A replay store whose backend is down: the failure the real Redis cannot be made to have on demand.</summary>
internal sealed class FailingReplayStore : IWebhookReplayStore
{
    public ValueTask<ReplayClaim> TryClaimAsync(string id, TimeSpan retention, CancellationToken cancellationToken) =>
        ValueTask.FromException<ReplayClaim>(new IOException("The replay store is unreachable."));

    public ValueTask CompleteAsync(string id, TimeSpan retention, CancellationToken cancellationToken) =>
        ValueTask.FromException(new IOException("The replay store is unreachable."));

    public ValueTask ReleaseAsync(string id, CancellationToken cancellationToken) =>
        ValueTask.FromException(new IOException("The replay store is unreachable."));
}
