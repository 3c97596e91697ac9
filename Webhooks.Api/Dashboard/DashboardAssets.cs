using System.Security.Cryptography;

namespace Webhooks.Api.Dashboard;

/// <summary>
/// The dashboard's stylesheet and icon, embedded in the assembly (no static-files set-up, nothing fetched from elsewhere)
/// and served under a name that carries their hash, so a browser may keep them for a year and a new build is loaded at once.
/// </summary>
public static class DashboardAssets
{
    private sealed record Asset(string Path, string ContentType, byte[] Bytes);

    private static readonly Asset[] All = [Load("site.css", "text/css; charset=utf-8"), Load("favicon.svg", "image/svg+xml")];

    public static string Stylesheet => All[0].Path;
    public static string Icon => All[1].Path;

    private static Asset Load(string name, string contentType)
    {
        using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("dashboard/" + name)
            ?? throw new InvalidOperationException($"The dashboard asset '{name}' is not embedded.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
        var dot = name.LastIndexOf('.');
        return new Asset($"/dashboard/assets/{name[..dot]}.{hash}{name[dot..]}", contentType, bytes);
    }

    public static void MapDashboardAssets(this WebApplication app)
    {
        foreach (var asset in All)
        {
            app.MapGet(asset.Path, (HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
                return Results.Bytes(asset.Bytes, asset.ContentType);
            }).AllowAnonymous().ExcludeFromDescription();
        }
        // Browsers ask for /favicon.ico whatever the page says.
        app.MapGet("/favicon.ico", () => Results.Redirect(Icon, permanent: false)).AllowAnonymous().ExcludeFromDescription();
    }
}
