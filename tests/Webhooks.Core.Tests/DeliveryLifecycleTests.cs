using Webhooks.Core.Data;
using Webhooks.Core.Delivery;

namespace Webhooks.Core.Tests;

public class DeliveryLifecycleTests
{
    [Theory]
    [InlineData(200, AttemptOutcome.Succeeded)]
    [InlineData(204, AttemptOutcome.Succeeded)]
    [InlineData(299, AttemptOutcome.Succeeded)]
    [InlineData(199, AttemptOutcome.Rejected)]
    [InlineData(300, AttemptOutcome.Rejected)]
    [InlineData(301, AttemptOutcome.Rejected)]
    [InlineData(302, AttemptOutcome.Rejected)]
    [InlineData(400, AttemptOutcome.Rejected)]
    [InlineData(401, AttemptOutcome.Rejected)]
    [InlineData(404, AttemptOutcome.Rejected)]
    [InlineData(408, AttemptOutcome.Retryable)]
    [InlineData(410, AttemptOutcome.Gone)]
    [InlineData(409, AttemptOutcome.Rejected)]
    [InlineData(429, AttemptOutcome.Retryable)]
    [InlineData(499, AttemptOutcome.Rejected)]
    [InlineData(500, AttemptOutcome.Retryable)]
    [InlineData(503, AttemptOutcome.Retryable)]
    [InlineData(null, AttemptOutcome.Retryable)]
    public void Classifies_status_codes(int? status, AttemptOutcome expected) =>
        Assert.Equal(expected, DeliveryLifecycle.Classify(status));

    [Fact]
    public void Default_schedule_is_immediately_then_5s_5m_30m_2h_5h_10h_10h()
    {
        var delays = RetrySchedule.Default.Delays.Select(d => d.TotalSeconds).ToArray();
        Assert.Equal([0, 5, 300, 1800, 7200, 18000, 36000, 36000], delays);
    }

    [Fact]
    public void Retry_delays_stay_within_twenty_percent_jitter_and_vary()
    {
        var random = new Random(42);
        var seen = new HashSet<long>();
        for (var i = 0; i < 1000; i++)
        {
            var delay = RetrySchedule.Default.DelayBefore(3, random)!.Value;
            Assert.InRange(delay.TotalSeconds, 240, 360);
            seen.Add(delay.Ticks);
        }
        Assert.True(seen.Count > 900, "jitter spreads retries");
        // Both ways around the nominal 5 minutes, across the whole ±20 %.
        Assert.Contains(seen, t => TimeSpan.FromTicks(t) < TimeSpan.FromSeconds(250));
        Assert.Contains(seen, t => TimeSpan.FromTicks(t) > TimeSpan.FromSeconds(350));
    }

    [Fact]
    public void The_delay_before_each_attempt_exists_from_the_first_to_the_last()
    {
        var schedule = new RetrySchedule([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20)], Jitter: 0);
        Assert.Null(schedule.DelayBefore(0, new Random(1)));
        Assert.Equal(TimeSpan.FromSeconds(10), schedule.DelayBefore(1, new Random(1)));
        Assert.Equal(TimeSpan.FromSeconds(20), schedule.DelayBefore(2, new Random(1)));
        Assert.Null(schedule.DelayBefore(3, new Random(1)));
        Assert.Equal(2, schedule.MaxAttempts);
    }

    [Fact]
    public void An_own_schedule_in_seconds_replaces_the_fallback_and_none_or_an_empty_one_keeps_it()
    {
        var fallback = new RetrySchedule([TimeSpan.FromSeconds(1)]);
        Assert.Same(fallback, RetrySchedule.Of(null, fallback));
        Assert.Same(fallback, RetrySchedule.Of([], fallback));
        var own = RetrySchedule.Of([0, 7], fallback);
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromSeconds(7)], own.Delays);
        Assert.Equal(0.2, own.Jitter);
    }

    [Fact]
    public void Success_ends_the_delivery()
    {
        var decision = DeliveryLifecycle.Decide(1, AttemptOutcome.Succeeded, null, RetrySchedule.Default, new Random(1));
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Succeeded, null, false), decision);
    }

    [Fact]
    public void Retryable_failure_waits_the_next_delay_of_the_schedule()
    {
        var decision = DeliveryLifecycle.Decide(1, AttemptOutcome.Retryable, null, RetrySchedule.Default, new Random(1));
        Assert.Equal(DeliveryStatus.Failed, decision.Status);
        Assert.InRange(decision.RetryIn!.Value.TotalSeconds, 4, 6);
        Assert.False(decision.DisableEndpoint);
    }

    [Fact]
    public void Retry_after_longer_than_the_schedule_is_honoured_up_to_the_cap()
    {
        var asked = DeliveryLifecycle.Decide(1, AttemptOutcome.Retryable, TimeSpan.FromMinutes(2), RetrySchedule.Default, new Random(1));
        Assert.Equal(TimeSpan.FromMinutes(2), asked.RetryIn);
        var capped = DeliveryLifecycle.Decide(1, AttemptOutcome.Retryable, TimeSpan.FromDays(3), RetrySchedule.Default, new Random(1));
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Failed, TimeSpan.FromHours(6), false), capped);
        Assert.Equal(TimeSpan.FromHours(6), DeliveryLifecycle.MaxRetryAfter);
        // A shorter Retry-After than the schedule's delay does not hurry the retry.
        var shorter = DeliveryLifecycle.Decide(2, AttemptOutcome.Retryable, TimeSpan.FromSeconds(1), RetrySchedule.Default, new Random(1));
        Assert.InRange(shorter.RetryIn!.Value.TotalSeconds, 240, 360);
    }

    [Fact]
    public void The_last_failed_attempt_exhausts_the_delivery()
    {
        var decision = DeliveryLifecycle.Decide(RetrySchedule.Default.MaxAttempts, AttemptOutcome.Retryable, null, RetrySchedule.Default, new Random(1));
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Exhausted, null, false), decision);
    }

    [Fact]
    public void Rejection_is_not_retried_and_gone_disables_the_endpoint()
    {
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Exhausted, null, false),
            DeliveryLifecycle.Decide(1, AttemptOutcome.Rejected, null, RetrySchedule.Default, new Random(1)));
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Exhausted, null, true),
            DeliveryLifecycle.Decide(1, AttemptOutcome.Gone, null, RetrySchedule.Default, new Random(1)));
    }

    [Theory]
    [InlineData(AttemptOutcome.Retryable)]
    [InlineData(AttemptOutcome.Rejected)]
    [InlineData(AttemptOutcome.Gone)]
    public void A_test_event_is_attempted_once_and_changes_nothing_about_its_endpoint(AttemptOutcome outcome)
    {
        Assert.Equal(new DeliveryDecision(DeliveryStatus.Exhausted, null, false),
            DeliveryLifecycle.Decide(1, outcome, TimeSpan.FromSeconds(1), RetrySchedule.Default, new Random(1), AttemptTrigger.Test));
        Assert.False(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Test, "http_status"));
        Assert.Equal(DeliveryStatus.Succeeded,
            DeliveryLifecycle.Decide(1, AttemptOutcome.Succeeded, null, RetrySchedule.Default, new Random(1), AttemptTrigger.Test).Status);
    }

    [Fact]
    public void An_attempt_lost_with_its_worker_counts_against_the_schedule_but_not_the_endpoint()
    {
        Assert.False(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Scheduled, DeliveryLifecycle.LeaseExpiredErrorKind));
        Assert.True(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Scheduled, "connection"));
        Assert.True(DeliveryLifecycle.AffectsEndpointHealth(AttemptTrigger.Manual, "http_status"));
    }
}

public class IdsTests
{
    [Fact]
    public void Lower_bound_of_a_time_sorts_between_ids_made_before_and_after_it()
    {
        var before = Ids.New(Ids.Message);
        Thread.Sleep(5);
        var bound = Ids.LowerBound(Ids.Message, DateTimeOffset.UtcNow);
        Thread.Sleep(5);
        var after = Ids.New(Ids.Message);

        Assert.True(Ids.IsValid(bound, Ids.Message));
        Assert.True(string.CompareOrdinal(before, bound) < 0);
        Assert.True(string.CompareOrdinal(bound, after) < 0);
    }


    [Fact]
    public void Ids_carry_their_prefix_and_sort_by_creation()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => Ids.New(Ids.Message)).ToList();
        Assert.All(ids, id => Assert.True(Ids.IsValid(id, Ids.Message), id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var earlier = Ids.New(Ids.Message, Guid.CreateVersion7(DateTimeOffset.UtcNow.AddSeconds(-1)));
        Assert.True(string.CompareOrdinal(earlier, ids[0]) < 0);
    }

    [Fact]
    public void An_id_is_the_prefix_and_the_uuid_in_crockford_base32_most_significant_bits_first()
    {
        Assert.Equal("msg_01H455VB4PEX5VSKNK084SN02Q", Ids.New(Ids.Message, Guid.Parse("01890a5d-ac96-774b-bcce-b302099a8057")));
        // A time's lower bound: its milliseconds in the first 48 bits, the rest zero.
        Assert.Equal("msg_01M8997DG00000000000000000", Ids.LowerBound(Ids.Message, new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero)));
    }

    [Theory]
    [InlineData("msg_01M83QVZ8PEHMARF83NFG2E3JN", true)]
    [InlineData("app_01M83QVZ8PEHMARF83NFG2E3JN", false)]
    [InlineData("msg_01M83QVZ8PEHMARF83NFG2E3J", false)]
    [InlineData("msg_01M83QVZ8PEHMARF83NFG2E3JU", false)]
    [InlineData("msg_U1M83QVZ8PEHMARF83NFG2E3JN", false)]
    [InlineData("msg-01M83QVZ8PEHMARF83NFG2E3JN", false)]
    [InlineData("mxg_01M83QVZ8PEHMARF83NFG2E3JN", false)]
    [InlineData("msg_01m83qvz8pehmarf83nfg2e3jn", false)]
    [InlineData(null, false)]
    public void Validates_the_shape_of_ids(string? id, bool valid) => Assert.Equal(valid, Ids.IsValid(id, Ids.Message));
}

public class EndpointTests
{
    // Which endpoints a message goes to is decided in SQL when it is published (MessagePublisher), and tested through
    // the API (ManagementTests.A_message_fans_out_to_the_endpoints_whose_event_types_and_channels_match).
    [Fact]
    public void Configure_keeps_each_filter_name_once_and_defaults_the_timeout()
    {
        var endpoint = new Endpoint("app_x", "https://example.com", "whsec_x", DateTimeOffset.UtcNow);
        endpoint.Configure("https://example.com/v2", null, ["order.created", "order.created", "order.paid"], ["eu", "eu"], null, null, null, null, null, null, DateTimeOffset.UtcNow);
        Assert.Equal(["order.created", "order.paid"], endpoint.EventTypes);
        Assert.Equal(["eu"], endpoint.Channels);
        Assert.Equal(Endpoint.DefaultTimeoutSeconds, endpoint.TimeoutSeconds);
        Assert.Equal("https://example.com/v2", endpoint.Url);
    }
}

public class WebhookEnvelopeTests
{
    [Fact]
    public void The_body_is_type_timestamp_and_the_payload_text_as_published()
    {
        var body = WebhookEnvelope.Build("order.created", new DateTimeOffset(2026, 11, 25, 12, 0, 0, 5, TimeSpan.FromHours(1)), "{ \"b\":1.50, \"a\":\"é\" }");
        Assert.Equal("{\"type\":\"order.created\",\"timestamp\":\"2026-11-25T11:00:00.005000Z\",\"data\":{ \"b\":1.50, \"a\":\"é\" }}",
            System.Text.Encoding.UTF8.GetString(body));
    }

    [Theory]
    [InlineData("a.b", "{}")]
    [InlineData("order.created", "{\"s\":\"ééé ✓ 𝄞\"}")]
    [InlineData("x", "[1, 2,\n 3]")]
    public void The_byte_count_is_the_size_of_the_body_built_whenever(string eventType, string payload)
    {
        Assert.Equal(WebhookEnvelope.Build(eventType, DateTimeOffset.UtcNow, payload).Length, WebhookEnvelope.ByteCount(eventType, payload));
        Assert.Equal(WebhookEnvelope.Build(eventType, DateTimeOffset.MaxValue, payload).Length, WebhookEnvelope.ByteCount(eventType, payload));
    }

    [Fact]
    public void The_longest_span_takes_each_wait_at_its_jitter_top_or_the_longest_retry_after_whichever_is_longer()
    {
        // 5 s … 5 h are stretched to 6 h; 10 h at +20 % is 12 h: 5 × 6 h + 2 × 12 h. The first attempt's own delay is not a wait.
        Assert.Equal(TimeSpan.FromHours(54), RetrySchedule.Default.LongestSpan(TimeSpan.FromHours(6)));
        var own = new RetrySchedule([TimeSpan.FromHours(100), TimeSpan.FromHours(1), TimeSpan.FromHours(10)], Jitter: 0.5);
        Assert.Equal(TimeSpan.FromHours(2 + 15), own.LongestSpan(TimeSpan.FromHours(2)));
        Assert.Equal(TimeSpan.Zero, new RetrySchedule([TimeSpan.Zero]).LongestSpan(TimeSpan.FromHours(6)));
    }
}
