using Quartz;
using Webhooks.Worker.Dispatch;

namespace Webhooks.Worker.Jobs;

/// <summary>Runs a dispatch pass; fired by the poll trigger and by wake-ups on publish.</summary>
[DisallowConcurrentExecution]
public sealed class DispatchJob(Dispatcher dispatcher) : IJob
{
    public static readonly JobKey Key = new("dispatch");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) => await dispatcher.RunAsync(cancellationToken);
}
