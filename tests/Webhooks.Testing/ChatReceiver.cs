using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Webhooks.Testing;

/// <summary>
/// Stands in for Slack's and Discord's incoming webhooks over real HTTP: <c>/slack</c> and <c>/discord</c> accept only the
/// shapes those services document (no unknown keys, every length and count limit), answering as they do (Slack 200
/// <c>ok</c> or 400 <c>invalid_blocks</c>; Discord 204 or 400 <c>Invalid Form Body</c>). What was accepted and why
/// anything was rejected are recorded.
/// </summary>
public sealed class ChatReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ChatReceiver(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }
    public Uri SlackUrl => new(Url, "slack");
    public Uri DiscordUrl => new(Url, "discord");

    /// <summary>Bodies accepted, by path.</summary>
    public ConcurrentQueue<(string Path, JsonElement Body)> Accepted { get; } = new();

    /// <summary>Why requests were rejected, by path.</summary>
    public ConcurrentQueue<(string Path, string Reason)> Rejected { get; } = new();

    public static async Task<ChatReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        ChatReceiver? self = null;
        app.MapPost("/slack", async context =>
        {
            var (body, error) = await ReadAsync(context);
            error ??= SlackShape.Check(body);
            await self!.AnswerAsync(context, "slack", body, error, ok: () => context.Response.WriteAsync("ok"),
                rejected: () => context.Response.WriteAsync("invalid_blocks"));
        });
        app.MapPost("/discord", async context =>
        {
            var (body, error) = await ReadAsync(context);
            error ??= DiscordShape.Check(body);
            await self!.AnswerAsync(context, "discord", body, error, ok: () => { context.Response.StatusCode = 204; return Task.CompletedTask; },
                rejected: () => context.Response.WriteAsJsonAsync(new { code = 50035, message = "Invalid Form Body", detail = error }));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new ChatReceiver(app, new Uri(address.TrimEnd('/') + "/"));
        return self;
    }

    private async Task AnswerAsync(HttpContext context, string path, JsonElement body, string? error, Func<Task> ok, Func<Task> rejected)
    {
        if (error is null)
        {
            Accepted.Enqueue((path, body));
            await ok();
            return;
        }
        Rejected.Enqueue((path, error));
        context.Response.StatusCode = 400;
        await rejected();
    }

    private static async Task<(JsonElement Body, string? Error)> ReadAsync(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return (default, "Content-Type must be application/json.");
        }
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body);
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, "Not JSON: " + ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Slack's incoming webhook message, as its Block Kit reference documents it (the subset of blocks we send).</summary>
public static class SlackShape
{
    public static string? Check(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return "The message must be an object.";
        }
        if (Unknown(body, "text", "blocks") is { } unknown)
        {
            return $"Unknown top-level key '{unknown}'.";
        }
        if (!body.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String || text.GetString()!.Length is 0 or > 3000)
        {
            return "'text' must be a string of 1 to 3000 characters (the notification fallback).";
        }
        if (!body.TryGetProperty("blocks", out var blocks))
        {
            return null;
        }
        if (blocks.ValueKind != JsonValueKind.Array || blocks.GetArrayLength() is 0 or > 50)
        {
            return "'blocks' must be an array of 1 to 50 blocks.";
        }
        foreach (var block in blocks.EnumerateArray())
        {
            var error = block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) ? "A block must be an object with a type." : type.GetString() switch
            {
                "header" => Unknown(block, "type", "text") is { } u ? $"header: unknown key '{u}'"
                    : TextObject(block, "text", 150, plainOnly: true),
                "section" => Unknown(block, "type", "text", "fields") is { } u ? $"section: unknown key '{u}'"
                    : !block.TryGetProperty("text", out _) && !block.TryGetProperty("fields", out _) ? "section: needs text or fields"
                    : (block.TryGetProperty("text", out _) ? TextObject(block, "text", 3000) : null) ?? Fields(block),
                "context" => Unknown(block, "type", "elements") is { } u ? $"context: unknown key '{u}'" : Elements(block),
                "divider" => Unknown(block, "type"),
                var other => $"Unknown block type '{other}'.",
            };
            if (error is not null)
            {
                return error;
            }
        }
        return null;
    }

    private static string? Fields(JsonElement section)
    {
        if (!section.TryGetProperty("fields", out var fields))
        {
            return null;
        }
        if (fields.ValueKind != JsonValueKind.Array || fields.GetArrayLength() is 0 or > 10)
        {
            return "section: 'fields' must hold 1 to 10 text objects.";
        }
        return fields.EnumerateArray().Select(f => Text(f, 2000, plainOnly: false)).FirstOrDefault(e => e is not null);
    }

    private static string? Elements(JsonElement context)
    {
        if (!context.TryGetProperty("elements", out var elements) || elements.ValueKind != JsonValueKind.Array || elements.GetArrayLength() is 0 or > 10)
        {
            return "context: 'elements' must hold 1 to 10 elements.";
        }
        return elements.EnumerateArray().Select(e => Text(e, 3000, plainOnly: false)).FirstOrDefault(e => e is not null);
    }

    private static string? TextObject(JsonElement parent, string name, int max, bool plainOnly = false) =>
        parent.TryGetProperty(name, out var text) ? Text(text, max, plainOnly) : $"'{name}' is missing.";

    private static string? Text(JsonElement text, int max, bool plainOnly)
    {
        if (text.ValueKind != JsonValueKind.Object || Unknown(text, "type", "text", "emoji", "verbatim") is not null)
        {
            return "A text object has only type, text, emoji and verbatim.";
        }
        var type = text.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type is not ("plain_text" or "mrkdwn") || (plainOnly && type != "plain_text"))
        {
            return $"Text type '{type}' is not allowed here.";
        }
        return text.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length is > 0 and var length && length <= max
            ? null
            : $"A text must be 1 to {max} characters.";
    }

    internal static string? Unknown(JsonElement obj, params string[] allowed) =>
        obj.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => !allowed.Contains(n, StringComparer.Ordinal));
}

/// <summary>Discord's execute-webhook message, as its API reference documents it (content, embeds and their limits).</summary>
public static class DiscordShape
{
    public static string? Check(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return "The message must be an object.";
        }
        if (SlackShape.Unknown(body, "content", "embeds", "allowed_mentions", "username", "avatar_url", "tts") is { } unknown)
        {
            return $"Unknown top-level key '{unknown}'.";
        }
        var content = body.TryGetProperty("content", out var c) ? c : default;
        if (content.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.String) || (content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 2000))
        {
            return "'content' must be a string of at most 2000 characters.";
        }
        var embeds = body.TryGetProperty("embeds", out var e) ? e : default;
        if (embeds.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Array) || (embeds.ValueKind == JsonValueKind.Array && embeds.GetArrayLength() > 10))
        {
            return "'embeds' must be an array of at most 10 embeds.";
        }
        if (content.ValueKind != JsonValueKind.String || content.GetString()!.Length == 0)
        {
            if (embeds.ValueKind != JsonValueKind.Array || embeds.GetArrayLength() == 0)
            {
                return "Cannot send an empty message.";
            }
        }
        if (body.TryGetProperty("allowed_mentions", out var mentions) &&
            (mentions.ValueKind != JsonValueKind.Object || SlackShape.Unknown(mentions, "parse", "users", "roles", "replied_user") is not null ||
             (mentions.TryGetProperty("parse", out var parse) && parse.EnumerateArray().Any(p => p.GetString() is not ("roles" or "users" or "everyone")))))
        {
            return "'allowed_mentions' is malformed.";
        }
        var total = 0;
        foreach (var embed in embeds.ValueKind == JsonValueKind.Array ? embeds.EnumerateArray() : Enumerable.Empty<JsonElement>())
        {
            if (embed.ValueKind != JsonValueKind.Object ||
                SlackShape.Unknown(embed, "title", "description", "url", "timestamp", "color", "footer", "image", "thumbnail", "author", "fields") is { } key)
            {
                return "An embed has an unknown key.";
            }
            var error = Length(embed, "title", 256, ref total) ?? Length(embed, "description", 4096, ref total);
            if (error is not null)
            {
                return error;
            }
            if (embed.TryGetProperty("timestamp", out var timestamp) &&
                !DateTimeOffset.TryParse(timestamp.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            {
                return "'timestamp' must be ISO 8601.";
            }
            if (embed.TryGetProperty("footer", out var footer))
            {
                if (footer.ValueKind != JsonValueKind.Object || SlackShape.Unknown(footer, "text", "icon_url") is not null || !footer.TryGetProperty("text", out _))
                {
                    return "'footer' must have text.";
                }
                if (Length(footer, "text", 2048, ref total, required: true) is { } footerError)
                {
                    return footerError;
                }
            }
            if (embed.TryGetProperty("fields", out var fields))
            {
                if (fields.ValueKind != JsonValueKind.Array || fields.GetArrayLength() > 25)
                {
                    return "'fields' must be an array of at most 25 fields.";
                }
                foreach (var field in fields.EnumerateArray())
                {
                    if (field.ValueKind != JsonValueKind.Object || SlackShape.Unknown(field, "name", "value", "inline") is not null)
                    {
                        return "A field has only name, value and inline.";
                    }
                    if ((Length(field, "name", 256, ref total, required: true) ?? Length(field, "value", 1024, ref total, required: true)) is { } fieldError)
                    {
                        return fieldError;
                    }
                    if (field.TryGetProperty("inline", out var inline) && inline.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        return "'inline' must be a boolean.";
                    }
                }
            }
        }
        return total > 6000 ? $"The embeds hold {total} characters: at most 6000." : null;
    }

    private static string? Length(JsonElement obj, string name, int max, ref int total, bool required = false)
    {
        if (!obj.TryGetProperty(name, out var value))
        {
            return required ? $"'{name}' is required." : null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            return $"'{name}' must be a string.";
        }
        var length = value.GetString()!.Length;
        total += length;
        return length > max || (required && length == 0) ? $"'{name}' must be {(required ? 1 : 0)} to {max} characters, not {length}." : null;
    }
}
