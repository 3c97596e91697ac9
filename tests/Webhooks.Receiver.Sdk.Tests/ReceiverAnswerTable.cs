namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>What the delivery engine does after an answer, in the words of the README's table.</summary>
public enum EngineDecision
{
    Succeeded,
    Retried,
    Exhausted,
    EndpointDisabled,
}

/// <summary>A situation a receiver can be driven into.</summary>
public enum Situation
{
    Handled,
    DuplicateOfHandled,
    UnhandledEventType,
    InProgress,
    HandlerThrew,
    SenderDisconnected,
    ReplayStoreFailed,
    DataDoesNotFit,
    MalformedBody,
    MissingHeaders,
    BadSignature,
    StaleTimestamp,
    TooLarge,
}

/// <param name="Description">The situation as the README's table words it, markdown included.</param>
/// <param name="Status">The SDK's answer; null when no answer reaches the sender.</param>
/// <param name="Problem">The title of the problem details the answer carries (its detail says more); null: an empty body.</param>
/// <param name="DetailNames">What the problem's detail names, so the sender's attempt log says why.</param>
public sealed record ReceiverAnswer(Situation Situation, string Description, int? Status, EngineDecision Engine, string? Problem = null, string? DetailNames = null);

/// <summary>
/// The one table of "receiver answer → engine decision", as data. The README's table must say the same
/// (<see cref="ReceiverAnswerTableTests.The_readme_table_says_what_the_test_table_says"/>), the receiver must answer
/// it and the engine must decide it (<see cref="ReceiverAnswerTableTests.Each_situation_is_answered_and_decided_as_the_table_says"/>).
/// </summary>
public static class ReceiverAnswerTable
{
    public static IReadOnlyList<ReceiverAnswer> Rows { get; } =
    [
        new(Situation.Handled, "the handler returned", 204, EngineDecision.Succeeded),
        new(Situation.DuplicateOfHandled, "a duplicate of a webhook already handled (same `webhook-id`)", 200, EngineDecision.Succeeded),
        new(Situation.UnhandledEventType, "a verified event type without a handler", 204, EngineDecision.Succeeded),
        new(Situation.InProgress, "the same `webhook-id` is being handled by another request right now", 503, EngineDecision.Retried, "in progress", "another request"),
        new(Situation.HandlerThrew, "the handler threw anything (its own `JsonException` and `OperationCanceledException` too)", 500, EngineDecision.Retried, "handler failed", "handler failed"),
        new(Situation.SenderDisconnected, "the sender gave up (its timeout, a dropped connection) while the handler ran", null, EngineDecision.Retried),
        new(Situation.ReplayStoreFailed, "the replay store (e.g. Redis) failed", 500, EngineDecision.Retried, "replay store failed", "replays"),
        new(Situation.DataDoesNotFit, "`data` does not deserialize into the handler's type", 400, EngineDecision.Exhausted, "malformed data", "FlakyHandler"),
        new(Situation.MalformedBody, "the body is not JSON, or not an object with a string `type` and a `data`", 400, EngineDecision.Exhausted, "malformed body", "not JSON"),
        new(Situation.MissingHeaders, "a `webhook-id`, `webhook-timestamp` or `webhook-signature` header is missing", 401, EngineDecision.Exhausted, "unsigned", "webhook-signature"),
        new(Situation.BadSignature, "no signature matches any of the secrets", 401, EngineDecision.Exhausted, "bad signature", "No signature matches"),
        new(Situation.StaleTimestamp, "the timestamp is not within `ToleranceSeconds` of now", 400, EngineDecision.Exhausted, "bad timestamp", "within 300 s"),
        new(Situation.TooLarge, "the body is larger than `MaxBodyBytes` (declared, or as it arrives)", 413, EngineDecision.Exhausted, "too large", "exceeds 1024 bytes"),
    ];

    public static ReceiverAnswer Row(Situation situation) => Rows.Single(r => r.Situation == situation);

    public static TheoryData<Situation> Situations => new(Rows.Select(r => r.Situation));

    /// <summary>The README's words for each decision.</summary>
    public static string Words(EngineDecision decision) => decision switch
    {
        EngineDecision.Succeeded => "succeeded",
        EngineDecision.Retried => "retried",
        EngineDecision.Exhausted => "ends exhausted",
        EngineDecision.EndpointDisabled => "endpoint disabled",
        _ => throw new ArgumentOutOfRangeException(nameof(decision)),
    };
}
