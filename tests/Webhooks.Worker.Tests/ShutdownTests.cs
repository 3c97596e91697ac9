using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Webhooks.Worker.Tests;

/// <summary>A stop that reaches a service while it is still starting ends it cleanly (the orchestrator's Stop during start).</summary>
public sealed class ShutdownTests
{
    [Fact]
    public void A_stop_during_start_is_a_clean_exit_not_an_unhandled_exception()
    {
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Services.AddHostedService<StoppedWhileStarting>();
        var app = builder.Build();

        // Before the fix, the exception filter resolved the lifetime from the disposed host and the OCE escaped.
        app.RunService();

        Assert.True(StoppedWhileStarting.Started);
    }

    private sealed class StoppedWhileStarting(IHostApplicationLifetime lifetime) : IHostedService
    {
        public static bool Started { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started = true;
            lifetime.StopApplication();
            // As a start waiting on the database sees it: its token (linked to ApplicationStopping) is cancelled.
            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException("stopped while starting");
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
