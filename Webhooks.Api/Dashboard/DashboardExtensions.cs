using Microsoft.EntityFrameworkCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Webhooks.Api.Infrastructure;
using Webhooks.Core.Data;

namespace Webhooks.Api.Dashboard;

/// <summary>
/// The server-rendered dashboard under <c>/dashboard</c>: Razor Pages, signed in with an API key (kept as a cookie
/// holding the key's id and scope, re-checked on every request), antiforgery tokens on every form.
/// </summary>
public static class DashboardExtensions
{
    public const string Scheme = "Dashboard";
    /// <summary>Sessions opened by a portal link: their own cookie, usable inside another site's frame.</summary>
    public const string PortalScheme = "DashboardPortal";
    /// <summary>The dashboard's pages authenticate with this: the portal session when its cookie is there, else the API-key session.</summary>
    public const string SessionScheme = "DashboardSession";
    public const string Policy = "Dashboard";
    /// <summary>Pages for API-key sessions only (the applications list): a portal session gets 403.</summary>
    public const string KeyPolicy = "DashboardKey";
    public const string PortalCookie = "webhooks_portal";
    public const string OperatorCookie = "webhooks_dashboard";

    public static WebApplicationBuilder AddWebhooksDashboard(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddRazorPages(o =>
        {
            o.Conventions.AuthorizeFolder("/Dashboard", Policy);
            o.Conventions.AuthorizePage("/Dashboard/Apps/Index", KeyPolicy);
            o.Conventions.AllowAnonymousToPage("/Dashboard/SignIn");
            o.Conventions.AllowAnonymousToPage("/Dashboard/Portal");
        }).AddMvcOptions(o => o.Filters.Add(new PortalActionFilter()));
        services.AddAuthentication()
            // An operator's session wins over a portal session in the same browser: opening a tenant's portal link cannot
            // replace the operator's console. (Framed by the tenant's site, the operator's SameSite=Strict cookie is not sent.)
            .AddPolicyScheme(SessionScheme, null, o => o.ForwardDefaultSelector = context =>
                !context.Request.Cookies.ContainsKey(OperatorCookie) && context.Request.Cookies.ContainsKey(PortalCookie) ? PortalScheme : Scheme)
            .AddCookie(Scheme, o =>
            {
                o.Cookie.Name = OperatorCookie;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.Cookie.Path = "/dashboard";
                o.LoginPath = "/dashboard/signin";
                o.LogoutPath = "/dashboard/signout";
                o.AccessDeniedPath = "/dashboard/signin";
                o.ExpireTimeSpan = TimeSpan.FromHours(8);
                o.SlidingExpiration = true;
                // A revoked key, or one whose application was deleted, signs its sessions out at their next request.
                o.Events.OnValidatePrincipal = async context =>
                {
                    var keyId = context.Principal?.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value;
                    var db = context.HttpContext.RequestServices.GetRequiredService<WebhooksDbContext>();
                    if (keyId is null || !await Infrastructure.ApiKeys.StillValidAsync(keyId, db, context.HttpContext.RequestAborted))
                    {
                        context.RejectPrincipal();
                    }
                };
            })
            .AddCookie(PortalScheme, o =>
            {
                // Framed by the tenant's own site, every request from the frame is cross-site: only SameSite=None cookies
                // go with it, and browsers take those only when Secure. Partitioned (CHIPS) keeps the cookie working where
                // third-party cookies are blocked: it is kept per embedding site.
                o.Cookie.Name = PortalCookie;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.None;
                o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
                o.Cookie.Extensions.Add("Partitioned");
                o.Cookie.Path = "/dashboard";
                o.LoginPath = "/dashboard/portal";
                o.LogoutPath = "/dashboard/signout";
                // The session lasts as long as its link: no sliding, the expiry is the link's (set at sign-in).
                o.SlidingExpiration = false;
                o.ExpireTimeSpan = TimeSpan.FromSeconds(DashboardOptions.MaxPortalLinkLifetimeSeconds);
                o.Events.OnRedirectToAccessDenied = context =>
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return Task.CompletedTask;
                };
                // A revoked or expired link (database clock), or a deleted application, ends the session at its next request.
                o.Events.OnValidatePrincipal = async context =>
                {
                    var linkId = context.Principal?.FindFirst(PortalSession.LinkClaim)?.Value;
                    var db = context.HttpContext.RequestServices.GetRequiredService<WebhooksDbContext>();
                    if (linkId is null || !await PortalLinks.PortalLinkStore.StillValidAsync(db, linkId, context.HttpContext.RequestAborted))
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(PortalScheme);
                    }
                };
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(Policy, p => p.AddAuthenticationSchemes(SessionScheme).RequireAuthenticatedUser())
            .AddPolicy(KeyPolicy, p => p.AddAuthenticationSchemes(SessionScheme).RequireAuthenticatedUser()
                .RequireAssertion(context => PortalSession.Of(context.User) is null));
        services.AddAntiforgery(o => o.Cookie = new SessionCookie { Name = "webhooks_dashboard_csrf" });
        // The one-line notice after an action travels in the TempData cookie: it follows the session's cookie policy too.
        services.Configure<Microsoft.AspNetCore.Mvc.CookieTempDataProviderOptions>(o => o.Cookie = new SessionCookie { Name = "webhooks_dashboard_notice" });
        // Data protection keys live in Postgres (AddWebhooksData): sessions and forms survive a restart and work on every API instance.
        services.AddScoped<DashboardQueries>();
        services.AddUrlTokenRedaction();
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    /// <summary>
    /// The dashboard's other cookies (antiforgery, notices): SameSite=Strict for API-key sessions; in a portal session
    /// (which may be framed by another site) SameSite=None, Secure and Partitioned like the session's own cookie, or no
    /// framed form could be posted.
    /// </summary>
    private sealed class SessionCookie : CookieBuilder
    {
        public SessionCookie()
        {
            Path = "/dashboard";
            SameSite = SameSiteMode.Strict;
            HttpOnly = true;
            SecurePolicy = CookieSecurePolicy.None;
            IsEssential = true;
        }

        public override CookieOptions Build(HttpContext context, DateTimeOffset expiresFrom)
        {
            var options = base.Build(context, expiresFrom);
            if (context.Request.Cookies.ContainsKey(PortalCookie))
            {
                options.SameSite = SameSiteMode.None;
                options.Secure = true;
                options.Extensions.Add("Partitioned");
            }
            return options;
        }
    }

    /// <summary>The request item holding the origins that may frame this response, besides the dashboard's own (a portal's application's).</summary>
    public const string FrameAncestorsItem = "webhooks:frame-ancestors";

    /// <summary>The request item holding this response's CSP nonce, for the one inline style a portal's theme needs.</summary>
    public const string NonceItem = "webhooks:csp-nonce";

    public static string Nonce(this HttpContext context) => context.Items[NonceItem] as string ?? "";

    public static WebApplication MapWebhooksDashboard(this WebApplication app)
    {
        // Every dashboard response carries a full CSP: nothing but this origin (no inline script at all; the one inline
        // style, a portal's theme colours, by nonce; images also over https, for a portal's logo), the framing allowed —
        // itself, the origins of Webhooks:Dashboard:FrameAncestors, and in a portal session its application's — and no
        // referrer (a portal link's token is in its URL). X-Frame-Options cannot list origins: it is sent (SAMEORIGIN)
        // only when nothing else may frame the page, for browsers without CSP. An API-key session's cookie is
        // SameSite=Strict: never sent to a frame on another site, so only portal sessions can be used framed.
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DashboardOptions>>().Value;
        var configured = options.FrameAncestors.Select(o => o.TrimEnd('/')).ToArray();
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/dashboard"))
            {
                var nonce = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
                context.Items[NonceItem] = nonce;
                context.Response.OnStarting(async () =>
                {
                    var portal = context.Items[FrameAncestorsItem] as IReadOnlyList<string>;
                    if (portal is null && PortalSession.Of(context.User) is { } session)
                    {
                        // A portal's page that answered before loading its application (a refused form, a 404): still
                        // shown in the tenant's frame.
                        portal = await context.RequestServices.GetRequiredService<WebhooksDbContext>().Applications.AsNoTracking()
                            .Where(a => a.Id == session.ApplicationId).Select(a => a.PortalFrameAncestors).FirstOrDefaultAsync();
                    }
                    portal ??= [];
                    var ancestors = configured.Concat(portal).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                    var headers = context.Response.Headers;
                    headers.ContentSecurityPolicy =
                        $"default-src 'self'; img-src 'self' data: https:; style-src 'self' 'nonce-{nonce}'; script-src 'none'; object-src 'none'; " +
                        $"base-uri 'none'; form-action 'self'; frame-ancestors {string.Join(' ', ancestors.Prepend("'self'"))}";
                    if (ancestors.Count == 0)
                    {
                        headers.XFrameOptions = "SAMEORIGIN";
                    }
                    headers.XContentTypeOptions = "nosniff";
                    headers["Referrer-Policy"] = "no-referrer";
                    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()";
                });
            }
            return next(context);
        });
        app.MapDashboardAssets();
        app.MapRazorPages();
        return app;
    }
}
