using Microsoft.Extensions.Options;
using Quartz;
using Webhooks.Core.Delivery;
using Webhooks.Core.Hosting;
using Webhooks.Worker.Jobs;

namespace Webhooks.Worker.Dispatch;

public static class DeliveryEngineExtensions
{
    public static WebApplicationBuilder AddDeliveryEngine(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DeliveryOptions>().BindConfiguration(DeliveryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        // The API makes and rotates the data protection keys; a worker only reads them, so a worker started with a
        // wrong or missing key-ring key can never write a key the others cannot use.
        Microsoft.AspNetCore.DataProtection.DataProtectionBuilderExtensions.DisableAutomaticKeyGeneration(services.AddDataProtection());
        services.AddSingleton<WorkerIdentity>();
        services.AddSingleton(sp => new DependencyOutages(sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(),
            postgresImpact: "Claims, attempt records and the lease sweep wait (attempts in flight are kept and recorded when it is back)",
            redisImpact: "Rate limits are kept per worker and wake-ups fall back to polling"));
        services.AddHostedService<RedisOutageWatch>();
        services.AddSingleton<DeliveryStore>();
        services.AddSingleton<Dispatcher>();
        services.AddSingleton<EndpointRateLimiter>();
        services.AddSingleton<DispatchSignal>();
        services.AddSingleton(sp => new EndpointCredentials(DeliveryHttp.Create(sp.GetRequiredService<IOptions<DeliveryOptions>>()),
            sp.GetRequiredService<IOptions<DeliveryOptions>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var credentials = sp.GetRequiredService<EndpointCredentials>();
            return new WebhookSender(credentials.Http, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Webhooks.Core.Data.SecretProtector>(), credentials);
        });
        builder.AddTelemetrySources(WorkerTelemetry.Name);

        var settings = builder.Configuration.GetSection(DeliveryOptions.SectionName).Get<DeliveryOptions>() ?? new DeliveryOptions();
        var poll = TimeSpan.FromSeconds(settings.PollIntervalSeconds);
        // Quartz 4: the hosting integration is part of the Quartz package; jobs take their cancellation token as a parameter.
        const SimpleTriggerMisfireInstruction skipMissed = SimpleTriggerMisfireInstruction.NextWithExistingCount;
        builder.AddQuartz(q =>
        {
            q.ConfigureScheduler(s => s.InstanceName = "webhooks-worker");
            q.UseDefaultThreadPool(pool => pool.MaxConcurrency = 4);
            q.AddJob<DispatchJob>(j => j.WithIdentity(DispatchJob.Key).StoreDurably());
            q.AddTrigger(t => t.ForJob(DispatchJob.Key).WithIdentity("dispatch-poll")
                .StartNow().WithSimpleSchedule(s => s.WithInterval(poll).RepeatForever().WithMisfireInstruction(skipMissed)));
            q.AddJob<LeaseSweepJob>(j => j.WithIdentity(LeaseSweepJob.Key));
            q.AddTrigger(t => t.ForJob(LeaseSweepJob.Key).WithIdentity("lease-sweep")
                .StartNow().WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(settings.LeaseSweepSeconds)).RepeatForever().WithMisfireInstruction(skipMissed)));
            q.AddJob<PurgeDeletedJob>(j => j.WithIdentity(PurgeDeletedJob.Key));
            q.AddTrigger(t => t.ForJob(PurgeDeletedJob.Key).WithIdentity("purge-deleted")
                .StartNow().WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(settings.LeaseSweepSeconds)).RepeatForever().WithMisfireInstruction(skipMissed)));
            q.AddJob<StatisticsJob>(j => j.WithIdentity(StatisticsJob.Key));
            q.AddTrigger(t => t.ForJob(StatisticsJob.Key).WithIdentity("statistics")
                .StartNow().WithSimpleSchedule(s => s.WithInterval(StatisticsJob.Interval).RepeatForever().WithMisfireInstruction(skipMissed)));
            q.AddJob<RetentionJob>(j => j.WithIdentity(RetentionJob.Key));
            q.AddTrigger(t => t.ForJob(RetentionJob.Key).WithIdentity("retention")
                .StartAt(DateTimeOffset.UtcNow.AddSeconds(Math.Min(60, settings.RetentionIntervalSeconds)))
                .WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(settings.RetentionIntervalSeconds)).RepeatForever()
                    .WithMisfireInstruction(skipMissed)));
        });
        builder.AddQuartzHostedService(q => q.WaitForJobsToComplete = true);
        services.AddHostedService<DispatchWakeup>();
        return builder;
    }
}
