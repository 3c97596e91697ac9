using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Webhooks.Core.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running host or database.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<WebhooksDbContext>
{
    public WebhooksDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<WebhooksDbContext>()
            .UseNpgsql("Host=localhost;Database=webhooksdb")
            .UseSnakeCaseNamingConvention()
            .Options);
}
