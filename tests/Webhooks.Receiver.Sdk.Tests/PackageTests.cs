using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

/// <summary>The SDK packed once, as a receiving team gets it from a feed.</summary>
public sealed class PackedSdk : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("webhooks-sdk-pack-");

    /// <summary>A version no feed has, so the global packages folder never holds a stale copy of it.</summary>
    public string Version { get; } = $"0.0.0-packagetest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    public string Work => _work.FullName;

    public string Feed => Path.Combine(Work, "feed");

    public string Package => Path.Combine(Feed, $"Webhooks.Receiver.Sdk.{Version}.nupkg");

    public string Symbols => Path.Combine(Feed, $"Webhooks.Receiver.Sdk.{Version}.snupkg");

    public async Task InitializeAsync()
    {
        var sdk = Path.Combine(TestStack.BuildInfo.RepositoryRoot, "Webhooks.Receiver.Sdk", "Webhooks.Receiver.Sdk.csproj");
        // MinVer gives the version from git tags; the override stands in for a tag.
        var (code, output) = await Dotnet.RunAsync(Work, "pack", sdk, "-o", Feed, $"-p:MinVerVersionOverride={Version}");
        Assert.True(code == 0, output);
    }

    public Task DisposeAsync()
    {
        _work.Delete(recursive: true);
        // The unique version was extracted into the global packages folder by the fresh app's restore.
        var cached = Path.Combine(Dotnet.GlobalPackagesFolder, "webhooks.receiver.sdk", Version);
        if (Directory.Exists(cached))
        {
            Directory.Delete(cached, recursive: true);
        }
        return Task.CompletedTask;
    }
}

/// <summary>The package as a receiving team gets it: packed, installed into a fresh project from a feed, receiving a webhook.</summary>
public sealed class PackageTests(PackedSdk packed) : IClassFixture<PackedSdk>
{
    private static readonly string[] Targets = ["net8.0", "net9.0", "net10.0"];

    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    // The README's quick start as written, made a whole program (builder, Run) with an AppDb that says what it saved.
    private const string QuickStart = """
        using Webhooks.Receiver.Sdk;

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddScoped<AppDb>();

        builder.Services.AddWebhookReceiver(o => o.Secrets.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
            .AddHandler<OrderCreated, OrderCreatedHandler>("order.created");
        var app = builder.Build();
        app.MapWebhookReceiver("/webhooks");
        app.Run();

        public record OrderCreated(int N, string? Note);
        public class OrderCreatedHandler(AppDb db) : IWebhookHandler<OrderCreated>
        {
            // context: Id (webhook-id), Timestamp, EventType
            public Task HandleAsync(OrderCreated data, WebhookContext context, CancellationToken ct) => db.SaveAsync(data);
        }
        public class AppDb
        {
            public Task SaveAsync(object data)
            {
                Console.WriteLine($"saved {data}");
                return Task.CompletedTask;
            }
        }
        """;

    [Fact]
    public void The_package_carries_every_target_its_docs_readme_licence_and_repository_and_a_symbols_package()
    {
        using (var archive = ZipFile.OpenRead(packed.Package))
        {
            var entries = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("README.md", entries);
            foreach (var target in Targets)
            {
                Assert.Contains($"lib/{target}/Webhooks.Receiver.Sdk.dll", entries);
                Assert.Contains($"lib/{target}/Webhooks.Receiver.Sdk.xml", entries);
            }

            var nuspecEntry = archive.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
            using var stream = nuspecEntry.Open();
            var metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            XElement Element(string name) => metadata.Elements().Single(e => e.Name.LocalName == name);
            Assert.Equal(packed.Version, Element("version").Value);
            Assert.Equal("MIT", Element("license").Value);
            Assert.Equal("expression", Element("license").Attribute("type")?.Value);
            Assert.Equal("README.md", Element("readme").Value);
            // SourceLink records the commit the package was built from (and the remote's URL, where there is one).
            Assert.Equal("git", Element("repository").Attribute("type")?.Value);
            Assert.Matches("^[0-9a-f]{40}$", Element("repository").Attribute("commit")?.Value ?? "");
            var groups = Element("dependencies").Elements().Select(g => g.Attribute("targetFramework")?.Value).ToList();
            Assert.Equal(Targets.Order(StringComparer.Ordinal), groups.Order(StringComparer.Ordinal));
        }

        using var symbols = ZipFile.OpenRead(packed.Symbols);
        var symbolEntries = symbols.Entries.Select(e => e.FullName).ToList();
        foreach (var target in Targets)
        {
            Assert.Contains($"lib/{target}/Webhooks.Receiver.Sdk.pdb", symbolEntries);
        }
    }

    [Fact]
    public async Task A_fresh_app_installs_the_package_from_a_feed_builds_for_net8_and_net10_and_receives_a_signed_webhook()
    {
        var app = Path.Combine(packed.Work, "app");
        Directory.CreateDirectory(app);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), QuickStart);
        await File.WriteAllTextAsync(Path.Combine(app, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFrameworks>net8.0;net10.0</TargetFrameworks>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Webhooks.Receiver.Sdk" Version="{packed.Version}" />
              </ItemGroup>
            </Project>
            """);
        // Outside the repository: none of its build settings apply, only the package. The machine's own feed stays
        // configured beside the local one, for the .NET 8 targeting pack.
        await File.WriteAllTextAsync(Path.Combine(app, "Directory.Build.props"), "<Project />");
        await File.WriteAllTextAsync(Path.Combine(app, "Directory.Packages.props"), "<Project />");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="webhooks-local" value="{packed.Feed}" />
              </packageSources>
            </configuration>
            """);
        var (code, output) = await Dotnet.RunAsync(app, "build", "-c", "Release");
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Release", "net8.0", "App.dll")), output);

        // Run on every target whose runtime this machine has (the .NET 8 build is only compiled where it has none).
        var runnable = new List<string> { "net10.0" };
        if (await Dotnet.HasAspNetCoreRuntimeAsync(8))
        {
            runnable.Add("net8.0");
        }
        foreach (var target in runnable)
        {
            await ReceivesASignedWebhookAsync(Path.Combine(app, "bin", "Release", target, "App.dll"));
        }
    }

    private static async Task ReceivesASignedWebhookAsync(string assembly)
    {
        var lines = new List<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var saved = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(assembly);
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = new Process { StartInfo = info };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (lines)
            {
                lines.Add(line);
            }
            if (Regex.Match(line, @"Now listening on: (http://\S+)") is { Success: true } url)
            {
                listening.TrySetResult(new Uri(url.Groups[1].Value));
            }
            if (line.StartsWith("saved ", StringComparison.Ordinal))
            {
                saved.TrySetResult(line);
            }
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Log()
        {
            lock (lines)
            {
                return $"{assembly}:\n{string.Join('\n', lines)}";
            }
        }
        try
        {
            var baseUrl = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = baseUrl };

            var body = """{"type":"order.created","timestamp":"2026-01-01T00:00:00Z","data":{"n":42,"note":"from the feed"}}"""u8.ToArray();
            var id = "msg_" + Guid.NewGuid().ToString("N");
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using var unsigned = await http.SendAsync(Request(body, id, timestamp, "v1,bm90IGEgc2lnbmF0dXJl"));
            Assert.True(unsigned.StatusCode == HttpStatusCode.Unauthorized, $"{unsigned.StatusCode}\n{Log()}");
            Assert.False(saved.Task.IsCompleted, Log());

            using var signed = await http.SendAsync(Request(body, id, timestamp, SignatureScheme.Sign(WebhookSecret.Parse(Secret), id, timestamp, body)));
            Assert.True(signed.IsSuccessStatusCode, $"{signed.StatusCode}\n{Log()}");
            Assert.Equal("saved OrderCreated { N = 42, Note = from the feed }", await saved.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The app did not start or handle the webhook in time.\n{Log()}");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static HttpRequestMessage Request(byte[] body, string id, long timestamp, string signature)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", signature);
        return request;
    }
}

internal static class Dotnet
{
    public static string GlobalPackagesFolder =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public static async Task<bool> HasAspNetCoreRuntimeAsync(int major)
    {
        var (code, output) = await RunAsync(Environment.CurrentDirectory, "--list-runtimes");
        return code == 0 && output.Split('\n').Any(l => l.StartsWith($"Microsoft.AspNetCore.App {major}.", StringComparison.Ordinal));
    }

    public static async Task<(int, string)> RunAsync(string directory, params string[] arguments)
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
