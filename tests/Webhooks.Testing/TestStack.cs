using System.Collections.Concurrent;
using Npgsql;
using Webhooks.Testing.Processes;
using Webhooks.Client;

namespace Webhooks.Testing;

/// <summary>
/// The real infrastructure the suite runs against, started once per test process: Postgres and Redis from the
/// machine's binaries on free ports (or the servers named by WEBHOOKS_TEST_POSTGRES / WEBHOOKS_TEST_REDIS),
/// the API and workers as processes. Removed when the test process exits. Tests isolate themselves by
/// creating their own application (tenant).
/// </summary>
public sealed class TestStack : IAsyncDisposable
{
    private static readonly Lazy<Task<TestStack>> Shared = new(() => StartAsync());
    private readonly string _root;
    private readonly ConcurrentBag<IAsyncDisposable> _owned = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ServiceInstance? _api;
    private ServiceInstance? _worker;

    private TestStack(string root, string postgres, string redis, LocalPostgres? localPostgres, LocalRedis? localRedis)
    {
        _root = root;
        PostgresConnectionString = postgres;
        RedisConnectionString = redis;
        LocalPostgres = localPostgres;
        LocalRedis = localRedis;
        AdminApiKey = "wh_test_admin_" + Guid.NewGuid().ToString("N");
        KeyRingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    }

    /// <summary>The key every service of this stack encrypts the data protection key ring with.</summary>
    public string KeyRingKey { get; }

    public string PostgresConnectionString { get; }
    public string RedisConnectionString { get; private set; }
    public string AdminApiKey { get; }
    public LocalPostgres? LocalPostgres { get; }
    public LocalRedis? LocalRedis { get; private set; }
    public static string LogPath { get; } = Path.Combine(Path.GetTempPath(), $"webhooks-tests-{Environment.ProcessId}.log");

    public static Task<TestStack> GetAsync() => Shared.Value;

    private static async Task<TestStack> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), $"webhooks-tests-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(root);
        var database = "webhooks_test";
        LocalPostgres? localPostgres = null;
        LocalRedis? localRedis = null;
        if (Environment.GetEnvironmentVariable("WEBHOOKS_TEST_POSTGRES") is null || Environment.GetEnvironmentVariable("WEBHOOKS_TEST_REDIS") is null)
        {
            var problems = await Prerequisites.EnsureAsync(Log);
            if (problems.Count > 0)
            {
                throw new InvalidOperationException(string.Join(Environment.NewLine, problems));
            }
        }

        string postgres;
        if (Environment.GetEnvironmentVariable("WEBHOOKS_TEST_POSTGRES") is { Length: > 0 } givenPostgres)
        {
            database = $"webhooks_test_{Guid.NewGuid():N}"[..30];
            await using (var admin = new NpgsqlConnection(givenPostgres))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
                await create.ExecuteNonQueryAsync();
            }
            postgres = new NpgsqlConnectionStringBuilder(givenPostgres) { Database = database }.ConnectionString;
        }
        else
        {
            localPostgres = await LocalPostgres.StartAsync(Path.Combine(root, "postgres"), LocalPostgres.FreePort(), Log, [database], durable: false);
            postgres = localPostgres.ConnectionString(database);
        }

        string redis;
        if (Environment.GetEnvironmentVariable("WEBHOOKS_TEST_REDIS") is { Length: > 0 } givenRedis)
        {
            redis = givenRedis;
        }
        else
        {
            localRedis = await LocalRedis.StartAsync(Path.Combine(root, "redis"), LocalPostgres.FreePort(), Log);
            redis = localRedis.ConnectionString;
        }

        var stack = new TestStack(root, postgres, redis, localPostgres, localRedis);
        stack.StartWatchdog();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stack.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        return stack;
    }

    private string PidFile => Path.Combine(_root, "pids");

    /// <summary>
    /// A shell loop outside this process: if the test host dies without disposing (killed, crashed), it kills
    /// what the stack started and removes its folder, so no server outlives the run.
    /// </summary>
    private void StartWatchdog()
    {
        File.WriteAllText(PidFile, "");
        var postmaster = Path.Combine(_root, "postgres", "postmaster.pid");
        var script = $$"""
            while kill -0 {{Environment.ProcessId}} 2>/dev/null; do sleep 1; done
            for pid in $(cat '{{PidFile}}' 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            [ -f '{{postmaster}}' ] && kill -QUIT "$(head -n 1 '{{postmaster}}')" 2>/dev/null
            sleep 2; rm -rf '{{_root}}'
            """;
        var watchdog = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sh", ["-c", script])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        });
        watchdog?.Dispose();
    }

    private void Track(ChildProcess process)
    {
        lock (_owned)
        {
            File.AppendAllText(PidFile, process.Id + Environment.NewLine);
        }
    }

    /// <summary>The shared API process, started on first use.</summary>
    public async Task<ServiceInstance> ApiAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return _api ??= await StartApiAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The shared worker process, started on first use (after the API, which migrates first).</summary>
    public async Task<ServiceInstance> WorkerAsync()
    {
        await ApiAsync();
        await _gate.WaitAsync();
        try
        {
            return _worker ??= await StartWorkerAsync("worker");
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task<ServiceInstance> StartApiAsync(IReadOnlyDictionary<string, string?>? settings = null) =>
        StartServiceAsync(ServiceProject.Api(BuildInfo.RepositoryRoot), "api", settings);

    /// <summary>A worker of its own (for tests that crash or stop one); the caller disposes it.</summary>
    public Task<ServiceInstance> StartWorkerAsync(string name, IReadOnlyDictionary<string, string?>? settings = null) =>
        StartServiceAsync(ServiceProject.Worker(BuildInfo.RepositoryRoot), name, settings);

    /// <summary>
    /// A stack of its own on the shared servers: a new database, an API and workers with the given settings,
    /// and optionally a Redis of its own (to stop and restart). Nothing else delivers its messages.
    /// </summary>
    public async Task<IsolatedStack> IsolatedAsync(
        IReadOnlyDictionary<string, string?>? workerSettings = null, int workers = 1, bool ownRedis = false, IReadOnlyDictionary<string, string?>? apiSettings = null)
    {
        var database = $"webhooks_iso_{Guid.NewGuid():N}"[..28];
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        await using (var admin = new NpgsqlConnection(builder.ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync();
        }
        builder.Database = database;
        LocalRedis? redis = null;
        var redisConnection = RedisConnectionString;
        var redisPort = 0;
        if (ownRedis)
        {
            redisPort = LocalPostgres.FreePort();
            redis = await LocalRedis.StartAsync(Path.Combine(_root, "redis-" + database), redisPort, Log);
            redisConnection = redis.ConnectionString;
        }
        var common = new Dictionary<string, string?>
        {
            ["ConnectionStrings__webhooksdb"] = builder.ConnectionString,
            ["ConnectionStrings__redis"] = redisConnection,
        };
        var api = await StartApiAsync(common.Concat(apiSettings ?? new Dictionary<string, string?>()).ToDictionary());
        var started = await Task.WhenAll(Enumerable.Range(1, workers).Select(i =>
            StartWorkerAsync($"{database}-worker-{i}", common.Concat(workerSettings ?? new Dictionary<string, string?>()).ToDictionary())));
        return new IsolatedStack(builder.ConnectionString, api, started.ToList(), redis, redisPort);
    }

    private async Task<ServiceInstance> StartServiceAsync(ServiceProject project, string name, IReadOnlyDictionary<string, string?>? settings)
    {
        var port = LocalPostgres.FreePort();
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Testing",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["ConnectionStrings__webhooksdb"] = PostgresConnectionString,
            ["ConnectionStrings__redis"] = RedisConnectionString,
            ["Webhooks__AdminApiKey"] = AdminApiKey,
            ["Webhooks__KeyRingKey"] = KeyRingKey,
            ["Webhooks__Delivery__AllowPrivateNetworks"] = "true",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }
        var process = project.Start(name, BuildInfo.Configuration, environment, Log);
        Track(process);
        var url = new Uri($"http://127.0.0.1:{port}/");
        try
        {
            await ServiceProject.WaitHealthyAsync(process, url, TimeSpan.FromSeconds(90));
        }
        catch
        {
            await process.StopAsync(TimeSpan.FromSeconds(5));
            throw new InvalidOperationException($"{name} did not become healthy; its log is in {LogPath}.");
        }
        var instance = new ServiceInstance(process, url, AdminApiKey);
        _owned.Add(instance);
        return instance;
    }

    /// <summary>A client authenticated with the admin key.</summary>
    public async Task<IWebhooksApi> AdminClientAsync() => (await ApiAsync()).Client(AdminApiKey);

    public static void Log(string line)
    {
        lock (LogPath)
        {
            File.AppendAllText(LogPath, $"{DateTime.UtcNow:HH:mm:ss.fff} {line}{Environment.NewLine}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_owned.Select(o => o.DisposeAsync().AsTask()));
        _owned.Clear();
        if (LocalRedis is not null)
        {
            await LocalRedis.DisposeAsync();
            LocalRedis = null;
        }
        if (LocalPostgres is not null)
        {
            await LocalPostgres.DisposeAsync();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The repository root and build configuration these tests were built from.</summary>
    public static class BuildInfo
    {
        private static readonly (string Root, string Configuration) Info = ServiceProject.BuildInfo(typeof(TestStack).Assembly);
        public static string RepositoryRoot => Info.Root;
        public static string Configuration => Info.Configuration;
    }
}

/// <summary>An API and workers on a database of their own; see <see cref="TestStack.IsolatedAsync"/>.</summary>
public sealed class IsolatedStack(string databaseConnectionString, ServiceInstance api, List<ServiceInstance> workers, LocalRedis? redis, int redisPort)
    : IAsyncDisposable
{
    public string DatabaseConnectionString { get; } = databaseConnectionString;
    public ServiceInstance Api { get; } = api;
    public IReadOnlyList<ServiceInstance> Workers => workers;

    /// <summary>The port of this stack's own Redis (only with <c>ownRedis</c>).</summary>
    public int RedisPort => redisPort;
    public IWebhooksApi Client() => Api.Client();

    /// <summary>Stops this stack's own Redis (only with <c>ownRedis</c>).</summary>
    public async Task StopRedisAsync()
    {
        if (redis is not null)
        {
            await redis.DisposeAsync();
            redis = null;
        }
    }

    /// <summary>Starts this stack's own Redis again on the same port.</summary>
    public async Task StartRedisAsync()
    {
        redis ??= await LocalRedis.StartAsync(Path.Combine(Path.GetTempPath(), $"webhooks-redis-{redisPort}"), redisPort, TestStack.Log);
    }

    /// <summary>Runs a scalar SQL query on this stack's database.</summary>
    public async Task<T> QueryAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Runs a query on this stack's database and returns its first column, one value per row.</summary>
    public async Task<List<T>> QueryColumnAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        var values = new List<T>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetFieldValue<T>(0));
        }
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(workers.Select(w => w.DisposeAsync().AsTask()).Append(Api.DisposeAsync().AsTask()));
        if (redis is not null)
        {
            await redis.DisposeAsync();
        }
    }
}

/// <summary>A running API or worker process.</summary>
public sealed class ServiceInstance(ChildProcess process, Uri url, string adminKey) : IAsyncDisposable
{
    public ChildProcess Process { get; } = process;
    public Uri Url { get; } = url;

    public IWebhooksApi Client(string? apiKey = null) => WebhooksClientExtensions.Create(Url, apiKey ?? adminKey);

    public HttpClient Http(string? apiKey = null)
    {
        var http = new HttpClient { BaseAddress = Url };
        if (apiKey is not null || adminKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey ?? adminKey);
        }
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.StopAsync(TimeSpan.FromSeconds(5));
        await Process.DisposeAsync();
    }
}
