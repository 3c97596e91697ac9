using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using FluentValidation.Results;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Dashboard;

/// <summary>What every dashboard page has: the caller's scope, the database, and a one-line notice after an action.</summary>
public abstract class DashboardPage(WebhooksDbContext db) : PageModel
{
    protected WebhooksDbContext Db { get; } = db;

    public ApiCaller Caller => ApiCaller.From(User);

    /// <summary>The portal link's session, when a tenant's user signed in with one; null for an API-key session.</summary>
    public PortalSession? Portal => PortalSession.Of(User);

    /// <summary>Set by an action before its redirect; shown once on the next page.</summary>
    [TempData]
    public string? Notice { get; set; }

    public Application? Application { get; private set; }

    /// <summary>Loads the application named in the route, if the caller may see it.</summary>
    protected async Task<bool> LoadApplicationAsync(string appId)
    {
        Application = await Db.FindApplicationAsync(Caller, appId, HttpContext.RequestAborted);
        if (Application is not null && Portal is not null)
        {
            // A portal session's pages may be framed by its application's own sites.
            HttpContext.Items[DashboardExtensions.FrameAncestorsItem] = Application.PortalFrameAncestors;
        }
        return Application is not null;
    }

    /// <summary>
    /// In a portal session restricted to some event types: false, with the error added and the answer set to 422, when
    /// an endpoint would subscribe to others (or, with none named, to every one).
    /// </summary>
    protected bool MaySubscribe(IReadOnlyList<string>? eventTypes)
    {
        if (Portal is not { } portal || portal.MaySubscribe(eventTypes))
        {
            return true;
        }
        ModelState.AddModelError("eventTypes", portal.SubscriptionRule);
        Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
        return false;
    }

    /// <summary>Puts FluentValidation's failures on the form, under the field names the form uses.</summary>
    protected void AddErrors(ValidationResult result, string prefix = "")
    {
        foreach (var error in result.Errors)
        {
            ModelState.AddModelError(prefix + error.PropertyName, error.ErrorMessage);
        }
    }

    protected void AddErrors(IDictionary<string, string[]> errors)
    {
        foreach (var (field, messages) in errors)
        {
            foreach (var message in messages)
            {
                ModelState.AddModelError(field, $"{field}: {message}");
            }
        }
    }

    /// <summary>
    /// A form's date and time (a datetime-local value, read as UTC); null when blank, or when it does not parse (the
    /// error then added under <paramref name="field"/>). A blank required field is an error too.
    /// </summary>
    protected DateTimeOffset? FormTime(string? value, string field, bool required = false)
    {
        if (string.IsNullOrWhiteSpace(value) && !required)
        {
            return null;
        }
        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return new DateTimeOffset(at, TimeSpan.Zero);
        }
        ModelState.AddModelError(field, $"'{field}' must be a date and time.");
        return null;
    }

    /// <summary>A form's JSON text (at most 64 levels deep); null when blank, or when it is not JSON (the error then added).</summary>
    protected JsonElement? FormJson(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            ModelState.AddModelError(field, $"'{field}' is not valid JSON: {ex.Message}");
            return null;
        }
    }

    /// <summary>404, on the dashboard's error page.</summary>
    protected IActionResult Missing(string what)
    {
        var result = Partial("_Error", new ErrorInfo(404, "Not found", $"{what} does not exist, or this session may not see it."));
        result.StatusCode = StatusCodes.Status404NotFound;
        return result;
    }
}

/// <summary>What the dashboard's error page shows.</summary>
public sealed record ErrorInfo(int Status, string Title, string Detail);

/// <summary>Small formatting helpers for the pages.</summary>
public static class Display
{
    public static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Rate(double? value) => value is { } v ? v.ToString("P1", CultureInfo.InvariantCulture) : "—";

    public static string Rate(long attempts, long succeeded) => attempts == 0 ? "—" : Rate((double)succeeded / attempts);

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement, Indented);
    }

    public static string Json(JsonElement? json) => json is { } j ? JsonSerializer.Serialize(j, Indented) : "";

    /// <summary>An HTML datetime-local value (UTC) for a form field.</summary>
    public static string LocalInput(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
}
