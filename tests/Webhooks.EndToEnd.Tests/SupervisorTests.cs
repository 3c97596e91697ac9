using System.Collections.Concurrent;
using Npgsql;
using Webhooks.AppHost.Local;
using Webhooks.Testing;

namespace Webhooks.EndToEnd.Tests;

/// <summary>
/// The local AppHost's supervisor on real processes: what a user sees after <c>kill -9</c> of one part of the stack.
/// </summary>
[Collection(StackFixture.Collection)]
public sealed class SupervisorTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Killed_process_is_restarted_with_growing_backoff_while_its_sibling_keeps_running_and_stop_restarts_nothing()
    {
        var reports = new ConcurrentQueue<string>();
        var stops = new ConcurrentQueue<string>();
        await using var supervisor = new Supervisor(reports.Enqueue);
        Func<ChildProcess, Task> RecordedStop(string name) => async process =>
        {
            stops.Enqueue("stopping " + name);
            await process.StopAsync(TimeSpan.FromSeconds(10));
            stops.Enqueue("stopped " + name);
        };
        var sibling = await supervisor.StartAsync("store", _ => Task.FromResult(Sleep("store")), RecordedStop("store"));
        var crashing = await supervisor.StartAsync("worker-1", _ => Task.FromResult(Sleep("worker-1")), RecordedStop("worker-1"), [sibling]);
        var siblingPid = sibling.Process.Id;
        var pids = new List<int> { crashing.Process.Id };
        // As in the AppHost, each child has a session of its own (a terminal's Ctrl+C reaches only the supervisor),
        // and its pid is the program's own, so `kill -9 <pid>` hits the program itself.
        await Eventually.HoldsAsync(() => SessionOf(siblingPid) == siblingPid && File.ReadAllText($"/proc/{siblingPid}/comm").Trim() == "sleep",
            Generous, "the store runs as 'sleep' in a session of its own");

        foreach (var (restart, delay) in new[] { (1, "1 s"), (2, "2 s") })
        {
            await KillAsync(pids[^1]);
            await Eventually.HoldsAsync(() => crashing.Process.Id != pids[^1] && IsRunning(crashing.Process.Id), Generous,
                $"worker-1 restarted after crash {restart}");
            pids.Add(crashing.Process.Id);
            Assert.Equal(restart, crashing.Restarts);
            Assert.Equal($"worker-1 exited with code 137; restarting in {delay} (restart {restart})", reports.Last());
        }
        Assert.Equal(2, reports.Count);
        Assert.Equal(siblingPid, sibling.Process.Id);
        Assert.True(IsRunning(siblingPid), "the store kept running through both crashes");
        Assert.Equal(0, sibling.Restarts);

        await supervisor.StopAsync();

        Assert.All(pids.Append(siblingPid), pid => Assert.False(IsRunning(pid), $"process {pid} still runs after the stop"));
        Assert.Equal(2, crashing.Restarts);
        Assert.Equal(2, reports.Count);
        // worker-1 depends on the store, so it is stopped first.
        Assert.Equal(new[] { "stopping worker-1", "stopped worker-1", "stopping store", "stopped store" }, stops.ToArray());
    }

    [Fact]
    public async Task Killed_Postgres_and_Redis_are_restarted_on_their_port_and_data_directory_and_reported_in_one_line()
    {
        var root = Path.Combine(Path.GetTempPath(), $"webhooks-supervisor-{Guid.NewGuid():N}"[..36]);
        var reports = new ConcurrentQueue<string>();
        try
        {
            await using (var supervisor = new Supervisor(reports.Enqueue))
            {
                var postgres = await LocalPostgres.PrepareAsync(Path.Combine(root, "postgres"), LocalPostgres.FreePort(), TestStack.Log);
                var postgresServer = await supervisor.StartAsync("postgres", postgres.StartServerAsync, _ => postgres.StopServerAsync());
                var redis = LocalRedis.Prepare(Path.Combine(root, "redis"), LocalPostgres.FreePort(), TestStack.Log);
                var redisServer = await supervisor.StartAsync("redis", redis.StartServerAsync, _ => redis.StopServerAsync());
                var database = new NpgsqlConnectionStringBuilder(postgres.ConnectionString("postgres")) { Pooling = false }.ConnectionString;
                await ExecuteAsync(database, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)");

                var postgresPid = postgresServer.Process.Id;
                await KillAsync(postgresPid);
                await Eventually.HoldsAsync(async () => postgresServer.Process.Id != postgresPid && await AnswersAsync(database), Generous,
                    "postgres restarted and accepting connections on its port");
                Assert.Equal(42, await ExecuteAsync(database, "SELECT id FROM kept"));
                // The first restart may come too soon for the killed server's backends to be gone; that retry has its own line.
                Assert.Equal("postgres exited with code 137; restarting in 1 s (restart 1)", reports.First());
                Assert.All(reports, r => Assert.StartsWith("postgres ", r));

                var redisPid = redisServer.Process.Id;
                await KillAsync(redisPid);
                await Eventually.HoldsAsync(async () => redisServer.Process.Id != redisPid && await PingsAsync(redis.Port), Generous,
                    "redis restarted and answering on its port");
                Assert.Equal("redis exited with code 137; restarting in 1 s (restart 1)", reports.Last());
                Assert.Equal(postgresServer.Process.Id, ReadPostmasterPid(Path.Combine(root, "postgres")));
            }
            Assert.False(File.Exists(Path.Combine(root, "postgres", "postmaster.pid")), "postgres was stopped cleanly");
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task Killed_worker_is_restarted_on_its_port_with_its_environment_and_serves_health_again()
    {
        var stack = await TestStack.GetAsync();
        await stack.ApiAsync();
        var reports = new ConcurrentQueue<string>();
        await using var supervisor = new Supervisor(reports.Enqueue);
        var workers = new List<(SupervisedProcess Process, Uri Url)>();
        foreach (var name in new[] { "worker-1", "worker-2" })
        {
            var port = LocalPostgres.FreePort();
            var environment = new Dictionary<string, string?>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Testing",
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ConnectionStrings__webhooksdb"] = stack.PostgresConnectionString,
                ["ConnectionStrings__redis"] = stack.RedisConnectionString,
                ["Webhooks__AdminApiKey"] = stack.AdminApiKey,
                ["Webhooks__KeyRingKey"] = stack.KeyRingKey,
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
            };
            var worker = ServiceProject.Worker(TestStack.BuildInfo.RepositoryRoot);
            var supervised = await supervisor.StartAsync(name, () => worker.Start(name, TestStack.BuildInfo.Configuration, environment, TestStack.Log));
            workers.Add((supervised, new Uri($"http://127.0.0.1:{port}/")));
        }
        await Task.WhenAll(workers.Select(w => ServiceProject.WaitHealthyAsync(w.Process.Process, w.Url, TimeSpan.FromSeconds(90))));
        var (crashing, crashingUrl) = workers[0];
        var (sibling, _) = workers[1];
        var crashedPid = crashing.Process.Id;
        var siblingPid = sibling.Process.Id;

        await KillAsync(crashedPid);
        await Eventually.HoldsAsync(() => crashing.Process.Id != crashedPid, Generous, "worker-1 restarted");
        await ServiceProject.WaitHealthyAsync(crashing.Process, crashingUrl, TimeSpan.FromSeconds(90));

        Assert.Equal(new[] { "worker-1 exited with code 137; restarting in 1 s (restart 1)" }, reports.ToArray());
        Assert.Equal(siblingPid, sibling.Process.Id);
        Assert.True(IsRunning(siblingPid), "worker-2 kept running");
    }

    private static ChildProcess Sleep(string name) => ChildProcess.Start(name, "sleep", ["600"], TestStack.Log, ownSession: true);

    /// <summary>The session id, the sixth field of <c>/proc/&lt;pid&gt;/stat</c> (the fourth after the command's closing parenthesis).</summary>
    private static int SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>What a user does to a process from another terminal.</summary>
    private static async Task KillAsync(int pid)
    {
        var (code, output) = await ChildProcess.RunAsync("kill", ["-9", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
        Assert.True(code == 0, $"kill -9 {pid}: {output}");
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task<int> ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync() is int value ? value : 0;
    }

    private static async Task<bool> AnswersAsync(string connectionString)
    {
        try
        {
            await ExecuteAsync(connectionString, "SELECT 1");
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private static async Task<bool> PingsAsync(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync("127.0.0.1", port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int ReadPostmasterPid(string dataDirectory) =>
        int.Parse(File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
}
