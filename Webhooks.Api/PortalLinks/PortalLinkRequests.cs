using FluentValidation;
using Webhooks.Api.Dashboard;
using Webhooks.Api.Infrastructure;
using Webhooks.Client;

namespace Webhooks.Api.PortalLinks;

public sealed class PortalLinkInValidator : AbstractValidator<PortalLinkIn>
{
    public PortalLinkInValidator()
    {
        RuleFor(l => l.ExpiresInSeconds!.Value).InclusiveBetween(1, DashboardOptions.MaxPortalLinkLifetimeSeconds)
            .OverridePropertyName("expiresInSeconds")
            .WithMessage($"'expiresInSeconds' must be 1 to {DashboardOptions.MaxPortalLinkLifetimeSeconds} (24 h).")
            .When(l => l.ExpiresInSeconds is not null);
        RuleFor(l => l.AllowedEventTypes!).Must(t => t.Count is > 0 and <= 256)
            .WithMessage("'allowedEventTypes' lists 1 to 256 event types (leave it out to allow every one).")
            .When(l => l.AllowedEventTypes is not null);
        RuleForEach(l => l.AllowedEventTypes).SetValidator(new EventTypeNameValidator());
    }
}

public sealed partial class PortalSettingsInValidator : AbstractValidator<PortalSettingsIn>
{
    public const int MaxFrameAncestors = 10;

    public PortalSettingsInValidator()
    {
        RuleFor(p => p.FrameAncestors!).Must(a => a.Count <= MaxFrameAncestors).WithMessage($"At most {MaxFrameAncestors} origins.")
            .When(p => p.FrameAncestors is not null);
        RuleForEach(p => p.FrameAncestors).Must(o => o is not null && o.Length <= 256 && Origin().IsMatch(o) &&
                                                     // A wildcard names a site's subdomains, not a whole top-level domain.
                                                     (!o.Contains("://*.", StringComparison.Ordinal) || o.Split("://*.")[1].Split(':')[0].Contains('.')))
            .WithMessage("Each frame ancestor is an origin: https://app.example.com (or https://*.example.com), with an optional port and nothing else.");
        RuleFor(p => p.Name!).Length(1, 100).Must(Text.IsPrintable).When(p => p.Name is not null)
            .WithMessage("'name' must be 1 to 100 printable characters.");
        RuleFor(p => p.LogoUrl!).MaximumLength(2048)
            .Must(u => Uri.TryCreate(u, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps && !u.Any(char.IsWhiteSpace))
            .When(p => p.LogoUrl is not null).WithMessage("'logoUrl' must be an absolute https URL.");
        RuleFor(p => p.AccentColor!).Cascade(CascadeMode.Stop).Matches("^#[0-9a-fA-F]{6}\\z").WithMessage("'accentColor' must be a colour as #rrggbb.")
            .Must(c => ContrastWithWhite(c) >= 4.5).WithMessage("'accentColor' must be dark enough for white text on it (contrast 4.5:1, WCAG AA).")
            .When(p => p.AccentColor is not null);
        RuleFor(p => p.Theme).Must(t => t is null or "light" or "dark").WithMessage("'theme' must be 'light' or 'dark'.");
    }

    /// <summary>The WCAG contrast ratio of white on <paramref name="color"/> (#rrggbb).</summary>
    public static double ContrastWithWhite(string color)
    {
        static double Channel(string hex)
        {
            var c = Convert.ToInt32(hex, 16) / 255.0;
            return c <= 0.03928 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }
        var luminance = 0.2126 * Channel(color[1..3]) + 0.7152 * Channel(color[3..5]) + 0.0722 * Channel(color[5..7]);
        return 1.05 / (luminance + 0.05);
    }

    // ASCII only, spelled out: a case-insensitive match would let look-alikes (the Kelvin sign for 'k') into a header value.
    [System.Text.RegularExpressions.GeneratedRegex(@"^[hH][tT][tT][pP][sS]?://(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?\z")]
    private static partial System.Text.RegularExpressions.Regex Origin();
}
