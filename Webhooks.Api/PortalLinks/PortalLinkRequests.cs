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
