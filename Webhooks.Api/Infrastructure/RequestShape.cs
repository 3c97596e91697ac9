using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace Webhooks.Api.Infrastructure;

/// <summary>
/// What no request body may hold, whatever its type, checked before its validator runs: a null item in a list or a null
/// value in a map (validators skip nulls there, and a null stored in an array or dictionary breaks later readers), and a
/// NUL character in any string (Postgres text cannot hold one). Each is refused by the field's JSON path.
/// </summary>
public static class RequestShape
{
    private const int MaxDepth = 8;
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();

    /// <summary>The refused fields of <paramref name="body"/> with why, or an empty dictionary.</summary>
    public static Dictionary<string, string[]> Problems(object body)
    {
        var problems = new Dictionary<string, string[]>();
        Walk(body, "", 0, problems);
        return problems;
    }

    private static void Walk(object? value, string path, int depth, Dictionary<string, string[]> problems)
    {
        if (value is string text)
        {
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                problems[Name(path)] = ["The value contains a NUL character (\\u0000), which cannot be stored."];
            }
            return;
        }
        if (value is null or JsonElement or Enum || value.GetType().IsValueType || depth > MaxDepth)
        {
            return;
        }
        if (value is IDictionary dictionary)
        {
            foreach (DictionaryEntry entry in dictionary)
            {
                var key = entry.Key.ToString() ?? "";
                var at = $"{path}.{key}";
                if (key.Contains('\0', StringComparison.Ordinal))
                {
                    problems[Name(path)] = ["A key contains a NUL character (\\u0000), which cannot be stored."];
                }
                if (entry.Value is null)
                {
                    problems[Name(at)] = ["The value must not be null."];
                    continue;
                }
                Walk(entry.Value, at, depth + 1, problems);
            }
            return;
        }
        if (value is IEnumerable items)
        {
            var index = 0;
            foreach (var item in items)
            {
                var at = $"{path}[{index++}]";
                if (item is null)
                {
                    problems[Name(at)] = ["The list must not contain null."];
                    continue;
                }
                Walk(item, at, depth + 1, problems);
            }
            return;
        }
        var type = value.GetType();
        if (type.Assembly != typeof(Client.ApplicationIn).Assembly && type.Assembly != typeof(RequestShape).Assembly)
        {
            return;
        }
        foreach (var property in Properties.GetOrAdd(type, t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.GetIndexParameters().Length == 0 && p.CanRead).ToArray()))
        {
            Walk(property.GetValue(value), $"{path}.{JsonNamingPolicy.CamelCase.ConvertName(property.Name)}", depth + 1, problems);
        }
    }

    private static string Name(string path) => path.TrimStart('.') is { Length: > 0 } name ? name : "body";
}
