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
    public const string Policy = "Dashboard";

    public static WebApplicationBuilder AddWebhooksDashboard(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddRazorPages(o =>
        {
            o.Conventions.AuthorizeFolder("/Dashboard", Policy);
            o.Conventions.AllowAnonymousToPage("/Dashboard/SignIn");
        });
        services.AddAuthentication()
            .AddCookie(Scheme, o =>
            {
                o.Cookie.Name = "webhooks_dashboard";
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
            });
        services.AddAuthorizationBuilder().AddPolicy(Policy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser());
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "webhooks_dashboard_csrf";
            o.Cookie.Path = "/dashboard";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        // Data protection keys live in Postgres (AddWebhooksData): sessions and forms survive a restart and work on every API instance.
        services.AddScoped<DashboardQueries>();
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    public static WebApplication MapWebhooksDashboard(this WebApplication app)
    {
        app.MapRazorPages();
        return app;
    }
}
