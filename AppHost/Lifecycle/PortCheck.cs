using System.Net;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Webhooks.AppHost.Lifecycle;

/// <summary>
/// Before anything starts: every fixed port the stack will listen on must be free, or the AppHost names the resource
/// and the port and stops, instead of the orchestrator retrying a start that cannot succeed.
/// </summary>
internal static class PortCheck
{
    /// <summary>The ports taken by another program, as "what (port)" lines; empty when all are free.</summary>
    public static IReadOnlyList<string> Conflicts(IDistributedApplicationBuilder builder)
    {
        var wanted = new List<(string What, int Port)>();
        // Under Aspire.Hosting.Testing the proxied ports are randomised; only fixed ones can clash.
        var randomised = builder.Configuration.GetValue("DcpPublisher:RandomizePorts", false);
        foreach (var resource in builder.Resources.OfType<IResourceWithEndpoints>())
        {
            foreach (var endpoint in resource.Annotations.OfType<EndpointAnnotation>())
            {
                if (endpoint.Port is { } port && !(randomised && endpoint.IsProxied))
                {
                    wanted.Add(($"{resource.Name} ({endpoint.Name})", port));
                }
            }
        }
        if (!builder.ExecutionContext.IsPublishMode)
        {
            AddUrls(wanted, "the Aspire dashboard", builder.Configuration["ASPNETCORE_URLS"]);
            AddUrls(wanted, "the Aspire dashboard's OTLP endpoint", builder.Configuration["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"]);
            AddUrls(wanted, "the Aspire resource service", builder.Configuration["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"]);
            AddUrls(wanted, "the Aspire dashboard's MCP endpoint", builder.Configuration["ASPIRE_DASHBOARD_MCP_ENDPOINT_URL"]);
        }
        return wanted.DistinctBy(w => w.Port).Where(w => !IsFree(w.Port)).Select(w => $"port {w.Port} for {w.What}").ToList();
    }

    private static void AddUrls(List<(string, int)> wanted, string what, string? urls)
    {
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Port > 0)
            {
                wanted.Add((what, uri.Port));
            }
        }
    }

    private static bool IsFree(int port)
    {
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            try
            {
                using var listener = new TcpListener(address, port);
                listener.Start();
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return false;
            }
            catch (SocketException)
            {
                // No IPv6 on this machine, or the address is not assignable: nothing can be listening there.
            }
        }
        return true;
    }
}
