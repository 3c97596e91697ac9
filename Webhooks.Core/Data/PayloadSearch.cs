namespace Webhooks.Core.Data;

/// <summary>
/// Searching stored payloads with a payload filter (<see cref="Delivery.PayloadFilter"/>), in Postgres: the SQL function
/// <c>webhooks_payload_matches(payload, path)</c> (created by the PortalSettings migration) parses the payload text to
/// jsonb and tests the filter's SQL/JSON path predicate, as the fan-out does. Each row searched is parsed, so a search
/// reads the messages the other filters leave (a time range keeps it short).
/// </summary>
public static class PayloadSearch
{
    public const string FunctionName = "webhooks_payload_matches";

    /// <summary>Whether the payload text passes the path predicate; translated to the SQL function, never run in .NET.</summary>
    public static bool Matches(string payload, string path) => throw new NotSupportedException("Only in a query: Postgres evaluates it.");

    public const string CreateFunction = $"""
        CREATE OR REPLACE FUNCTION {FunctionName}(payload text, path text) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(payload::jsonb @@ path::jsonpath, false) $$;
        """;

    public const string DropFunction = $"DROP FUNCTION IF EXISTS {FunctionName}(text, text);";
}
