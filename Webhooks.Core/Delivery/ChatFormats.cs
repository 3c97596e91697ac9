using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Webhooks.Core.Delivery;

/// <summary>
/// The body formats an endpoint can ask for: <c>standard</c> (the Standard Webhooks envelope), or a chat service's
/// incoming webhook, rendered from the event type and payload: <c>slack</c> (<c>{"text", "blocks"}</c>) and
/// <c>discord</c> (<c>{"content", "embeds", "allowed_mentions"}</c>), each within the limits its service documents.
/// The rendering, for an object payload: a headline (the event type, and the payload's <c>summary</c>, <c>message</c>,
/// <c>title</c> or <c>description</c> when it has one), then one field per top-level property (nested values as compact
/// JSON), cut to the service's limits with a note of what was left out. Text from the payload can never mention
/// anyone: Slack's control characters are escaped, Discord's mentions switched off.
/// </summary>
public static class ChatFormats
{
    public const string Standard = "standard";
    public const string Slack = "slack";
    public const string Discord = "discord";

    /// <summary>Every format an endpoint may have.</summary>
    public static readonly IReadOnlyList<string> All = [Standard, Slack, Discord];

    private static readonly string[] SummaryKeys = ["summary", "message", "title", "description"];

    // Slack (docs.slack.dev, Block Kit): a message has at most 50 blocks; a section's text at most 3000 characters and
    // at most 10 fields of at most 2000 characters each; a header's plain text at most 150.
    public const int SlackMaxFieldsPerSection = 10;
    public const int SlackMaxFieldText = 2000;
    public const int SlackMaxSectionText = 3000;
    public const int SlackMaxHeaderText = 150;
    public const int SlackMaxBlocks = 50;
    private const int SlackMaxSections = 4;

    // Discord (Execute Webhook, Embed Limits): content at most 2000 characters, at most 10 embeds; an embed's title at most
    // 256, description 4096, at most 25 fields of name 256 and value 1024 (neither empty), footer 2048; at most 6000
    // characters across an embed's texts.
    public const int DiscordMaxContent = 2000;
    public const int DiscordMaxTitle = 256;
    public const int DiscordMaxFields = 25;
    public const int DiscordMaxFieldName = 256;
    public const int DiscordMaxFieldValue = 1024;
    public const int DiscordMaxEmbedTotal = 6000;

    /// <summary>Whether <paramref name="format"/> is one an endpoint may have (null: standard).</summary>
    public static bool IsKnown(string? format) => format is null || All.Contains(format, StringComparer.Ordinal);

    /// <summary>
    /// The body of a delivery in <paramref name="format"/>: for standard, the envelope (or, for a <paramref name="raw"/>
    /// message, published through the Svix surface, the payload's own bytes, as Svix sends them); else the chat message.
    /// </summary>
    public static byte[] Render(string? format, string eventType, DateTimeOffset timestamp, string payload, bool raw = false) => format switch
    {
        Slack => RenderSlack(eventType, timestamp, payload),
        Discord => RenderDiscord(eventType, timestamp, payload),
        _ when raw => System.Text.Encoding.UTF8.GetBytes(payload),
        _ => WebhookEnvelope.Build(eventType, timestamp, payload),
    };

    /// <summary>The Slack incoming webhook message for an event.</summary>
    public static byte[] RenderSlack(string eventType, DateTimeOffset timestamp, string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        var summary = SummaryOf(root);
        return Write(writer =>
        {
            writer.WriteString("text", Cut(SlackEscape(summary is null ? eventType : $"{eventType}: {summary}"), SlackMaxSectionText));
            writer.WriteStartArray("blocks");
            writer.WriteStartObject();
            writer.WriteString("type", "header");
            writer.WriteStartObject("text");
            writer.WriteString("type", "plain_text");
            writer.WriteString("text", Cut(eventType, SlackMaxHeaderText));
            writer.WriteEndObject();
            writer.WriteEndObject();
            if (summary is not null)
            {
                Section(writer, Cut(SlackEscape(summary), SlackMaxSectionText));
            }
            if (root.ValueKind == JsonValueKind.Object)
            {
                var properties = root.EnumerateObject().ToList();
                var shown = Math.Min(properties.Count, SlackMaxFieldsPerSection * SlackMaxSections);
                for (var start = 0; start < shown; start += SlackMaxFieldsPerSection)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "section");
                    writer.WriteStartArray("fields");
                    foreach (var property in properties.Skip(start).Take(Math.Min(SlackMaxFieldsPerSection, shown - start)))
                    {
                        writer.WriteStartObject();
                        writer.WriteString("type", "mrkdwn");
                        var name = Cut(SlackEscape(property.Name), 200);
                        writer.WriteString("text", Cut($"*{name}*\n{SlackEscape(ValueText(property.Value))}", SlackMaxFieldText));
                        writer.WriteEndObject();
                    }
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }
                if (properties.Count > shown)
                {
                    Context(writer, $"{properties.Count - shown} more fields not shown.");
                }
            }
            else
            {
                Section(writer, Cut("```" + SlackEscape(root.GetRawText()), SlackMaxSectionText - 3) + "```");
            }
            Context(writer, Iso(timestamp));
            writer.WriteEndArray();
        });

        static void Section(Utf8JsonWriter writer, string text)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "section");
            writer.WriteStartObject("text");
            writer.WriteString("type", "mrkdwn");
            writer.WriteString("text", text);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        static void Context(Utf8JsonWriter writer, string text)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "context");
            writer.WriteStartArray("elements");
            writer.WriteStartObject();
            writer.WriteString("type", "mrkdwn");
            writer.WriteString("text", text);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
    }

    /// <summary>The Discord execute-webhook message for an event.</summary>
    public static byte[] RenderDiscord(string eventType, DateTimeOffset timestamp, string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        var summary = SummaryOf(root);
        return Write(writer =>
        {
            writer.WriteString("content", Cut(summary is null ? $"**{eventType}**" : $"**{eventType}**: {summary}", DiscordMaxContent));
            writer.WriteStartArray("embeds");
            writer.WriteStartObject();
            var title = Cut(eventType, DiscordMaxTitle);
            writer.WriteString("title", title);
            // The whole embed's text budget: what the title took, and room kept for a note of fields left out.
            var budget = DiscordMaxEmbedTotal - title.Length - 64;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var properties = root.EnumerateObject().ToList();
                var written = 0;
                writer.WriteStartArray("fields");
                foreach (var property in properties.Take(DiscordMaxFields))
                {
                    var name = Cut(property.Name.Length == 0 ? "(empty)" : property.Name, DiscordMaxFieldName);
                    var value = ValueText(property.Value);
                    value = Cut(value.Length == 0 ? "(empty)" : value, DiscordMaxFieldValue);
                    if (name.Length + value.Length > budget)
                    {
                        break;
                    }
                    budget -= name.Length + value.Length;
                    writer.WriteStartObject();
                    writer.WriteString("name", name);
                    writer.WriteString("value", value);
                    writer.WriteBoolean("inline", value.Length <= 40);
                    writer.WriteEndObject();
                    written++;
                }
                writer.WriteEndArray();
                if (written < properties.Count)
                {
                    writer.WriteStartObject("footer");
                    writer.WriteString("text", $"{properties.Count - written} more fields not shown.");
                    writer.WriteEndObject();
                }
            }
            else
            {
                writer.WriteString("description", Cut("```json\n" + root.GetRawText(), Math.Min(4096, budget) - 3) + "```");
            }
            writer.WriteString("timestamp", Iso(timestamp));
            writer.WriteEndObject();
            writer.WriteEndArray();
            // Text from the payload must not ping anyone: no @everyone, role or user mentions.
            writer.WriteStartObject("allowed_mentions");
            writer.WriteStartArray("parse");
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    private static string? SummaryOf(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        foreach (var key in SummaryKeys)
        {
            if (root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        return null;
    }

    private static string ValueText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Object or JsonValueKind.Array => "`" + Cut(value.GetRawText(), 1000) + "`",
        _ => value.GetRawText(),
    };

    private static string Iso(DateTimeOffset timestamp) => timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Slack's three control characters, escaped as its docs ask: no <c>&lt;!channel&gt;</c> or link can be injected.</summary>
    private static string SlackEscape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary><paramref name="text"/> cut to at most <paramref name="max"/> characters (UTF-16, as both services count), marked with an ellipsis, never inside a surrogate pair.</summary>
    private static string Cut(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }
        var end = max - 1;
        if (char.IsHighSurrogate(text[end - 1]))
        {
            end--;
        }
        return string.Concat(text.AsSpan(0, end), "…");
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The body as text, for a preview.</summary>
    public static string ToText(byte[] body) => Encoding.UTF8.GetString(body);
}
