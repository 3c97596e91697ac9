using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Webhooks.Core.Hosting;

/// <summary>
/// One dependency's outage, told in two log lines however many calls fail in between: a warning when it goes away
/// (what it was, what waits), an information line when it is back (after how long). Callers back off by
/// <see cref="Failed"/>'s answer, so an outage neither floods the log with stack traces nor spins a core.
/// </summary>
public sealed partial class DependencyOutage(string dependency, string impact, ILogger logger, TimeProvider time)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(15);
    private readonly Lock _lock = new();
    private DateTimeOffset? _since;
    private int _failures;
    private volatile bool _down;

    public string Dependency { get; } = dependency;

    public bool IsDown => _down;

    /// <summary>Whether <paramref name="exception"/> means the dependency is unreachable or not answering (rather than a bug or bad input).</summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        NpgsqlException npgsql => npgsql.IsTransient || npgsql is not PostgresException,
        RedisConnectionException or RedisTimeoutException or TimeoutException or SocketException => true,
        InvalidOperationException { InnerException: { } inner } => IsOutage(inner), // EF Core's retry strategy gave up
        _ when exception.InnerException is NpgsqlException or TimeoutException or SocketException => IsOutage(exception.InnerException),
        _ => false,
    };

    /// <summary>Notes a failed call: logs the outage if it just began, and says how long to wait before trying again.</summary>
    public TimeSpan Failed(Exception exception)
    {
        lock (_lock)
        {
            _failures++;
            if (_since is null)
            {
                _since = time.GetUtcNow();
                _down = true;
                LogDown(Dependency, Reason(exception), impact);
            }
            var backoff = FirstBackoff * Math.Pow(2, Math.Min(_failures - 1, 10));
            return backoff < MaxBackoff ? backoff : MaxBackoff;
        }
    }

    /// <summary>Notes a successful call: logs the end of an outage, if there was one.</summary>
    public void Recovered()
    {
        if (!_down)
        {
            return;
        }
        lock (_lock)
        {
            if (_since is { } since)
            {
                LogBack(Dependency, Math.Round((time.GetUtcNow() - since).TotalSeconds, 1), _failures);
            }
            _since = null;
            _failures = 0;
            _down = false;
        }
    }

    private static string Reason(Exception exception)
    {
        var reason = exception.Message;
        if (exception.InnerException is { } inner && !reason.Contains(inner.Message, StringComparison.Ordinal))
        {
            reason += " (" + inner.Message + ")";
        }
        return reason.ReplaceLineEndings(" ");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Dependency} is unreachable: {Reason}. {Impact}; retrying with backoff, next line when it is back")]
    private partial void LogDown(string dependency, string reason, string impact);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Dependency} is back after {Seconds} s ({Failures} calls failed meanwhile)")]
    private partial void LogBack(string dependency, double seconds, int failures);
}

/// <summary>The outages a service watches for: Postgres and Redis, each told in its own two lines.</summary>
public sealed class DependencyOutages(ILoggerFactory loggers, TimeProvider time, string postgresImpact, string redisImpact)
{
    public DependencyOutage Postgres { get; } = new("Postgres", postgresImpact, loggers.CreateLogger("Webhooks.Outages"), time);
    public DependencyOutage Redis { get; } = new("Redis", redisImpact, loggers.CreateLogger("Webhooks.Outages"), time);
}
