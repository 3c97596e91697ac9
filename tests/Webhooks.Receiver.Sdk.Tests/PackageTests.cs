using System.Diagnostics;
using System.IO.Compression;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>The package as a receiving team gets it: packed, then used from a fresh project.</summary>
public sealed class PackageTests
{
    private const string QuickStart = """
        using Webhooks.Receiver.Sdk;

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddScoped<AppDb>();

        builder.Services.AddWebhookReceiver(o => o.Secrets.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
            .AddHandler<OrderCreated, OrderCreatedHandler>("order.created");
        var app = builder.Build();
        app.MapWebhookReceiver("/webhooks");

        public record OrderCreated(int N, string? Note);
        public class OrderCreatedHandler(AppDb db) : IWebhookHandler<OrderCreated>
        {
            // context: Id (webhook-id), Timestamp, EventType
            public Task HandleAsync(OrderCreated data, WebhookContext context, CancellationToken ct) => db.SaveAsync(data);
        }
        public class AppDb { public Task SaveAsync(object _) => Task.CompletedTask; }
        """;

    [Fact]
    public async Task The_readme_quick_start_compiles_against_the_packed_sdk_and_the_package_carries_docs()
    {
        var work = Directory.CreateTempSubdirectory("webhooks-sdk-pack-");
        try
        {
            var feed = Path.Combine(work.FullName, "feed");
            var sdk = Path.Combine(TestStack.BuildInfo.RepositoryRoot, "Webhooks.Receiver.Sdk", "Webhooks.Receiver.Sdk.csproj");
            var (code, output) = await DotnetAsync(work.FullName, "pack", sdk, "-o", feed, "-p:Version=0.0.1-test");
            Assert.True(code == 0, output);

            var package = Path.Combine(feed, "Webhooks.Receiver.Sdk.0.0.1-test.nupkg");
            using (var archive = ZipFile.OpenRead(package))
            {
                var entries = archive.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("README.md", entries);
                Assert.Contains("lib/net10.0/Webhooks.Receiver.Sdk.dll", entries);
                Assert.Contains("lib/net10.0/Webhooks.Receiver.Sdk.xml", entries);
            }

            var app = Path.Combine(work.FullName, "app");
            Directory.CreateDirectory(app);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), QuickStart);
            await File.WriteAllTextAsync(Path.Combine(app, "App.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk.Web">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Webhooks.Receiver.Sdk" Version="0.0.1-test" />
                  </ItemGroup>
                </Project>
                """);
            // Outside the repository: none of its build settings apply, only the package.
            await File.WriteAllTextAsync(Path.Combine(app, "Directory.Build.props"), "<Project />");
            await File.WriteAllTextAsync(Path.Combine(app, "Directory.Packages.props"), "<Project />");
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            (code, output) = await DotnetAsync(app, "build", "-c", "Release");
            Assert.True(code == 0, output);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<(int, string)> DotnetAsync(string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
