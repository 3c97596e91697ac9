using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

/// <summary>What a scenario's receiver saw, checked against what the database recorded.</summary>
internal static class Ledger
{
    /// <summary>
    /// Every request the receiver got is on record, id by id: for each <c>webhook-id</c>, at least as many attempt rows
    /// for that message and the scenario's endpoint as requests received (a request whose own record was lost with its
    /// worker is the lease sweep's <c>lease_expired</c> row). And every duplicate is explained: a message is sent again
    /// only after a lease on it expired (an attempt that was sent, or about to be, and not recorded when a fault struck),
    /// so the requests beyond the first for an id are at most its <c>lease_expired</c> rows. Call once every delivery is
    /// finished. Returns the ids received more than once and the number of requests beyond the first.
    /// </summary>
    public static async Task<(HashSet<string> Ids, int Requests)> AssertEveryRequestRecordedAsync(IsolatedStack isolated, Scenario s)
    {
        var endpoint = ("endpoint", (object)s.Endpoint.Endpoint.Id);
        var recorded = (await isolated.QueryColumnAsync<string>("SELECT message_id FROM delivery_attempts WHERE endpoint_id = @endpoint", endpoint))
            .CountBy(id => id).ToDictionary();
        var expired = (await isolated.QueryColumnAsync<string>(
            $"SELECT message_id FROM delivery_attempts WHERE endpoint_id = @endpoint AND error_kind = '{Core.Delivery.DeliveryLifecycle.LeaseExpiredErrorKind}'",
            endpoint)).CountBy(id => id).ToDictionary();
        var received = s.Receiver.Requests.CountBy(r => r.Headers["webhook-id"]).ToList();
        Assert.NotEmpty(received);

        var unrecorded = received.Where(r => recorded.GetValueOrDefault(r.Key) < r.Value)
            .Select(r => $"{r.Key}: {r.Value} received, {recorded.GetValueOrDefault(r.Key)} recorded").ToList();
        Assert.True(unrecorded.Count == 0, $"requests the receiver got with no attempt on record: {string.Join("; ", unrecorded)}");
        var unexplained = received.Where(r => r.Value - 1 > expired.GetValueOrDefault(r.Key))
            .Select(r => $"{r.Key}: {r.Value} received, {expired.GetValueOrDefault(r.Key)} leases expired").ToList();
        Assert.True(unexplained.Count == 0, $"messages sent again without an expired lease: {string.Join("; ", unexplained)}");

        var duplicated = received.Where(r => r.Value > 1).Select(r => r.Key).ToHashSet();
        var duplicates = received.Sum(r => r.Value - 1);
        TestStack.Log($"ledger: {received.Count} ids received in {s.Receiver.Requests.Count} requests ({duplicates} duplicates of {duplicated.Count} ids), " +
                      $"{recorded.Values.Sum()} attempts recorded, {expired.Values.Sum()} leases expired");
        return (duplicated, duplicates);
    }

    /// <summary>The messages whose deliveries are leased right now (claimed, sent or about to be, not yet recorded).</summary>
    public const string LeasedNow = "SELECT coalesce(array_agg(message_id), '{}') FROM deliveries WHERE status = 'in_flight'";
}
