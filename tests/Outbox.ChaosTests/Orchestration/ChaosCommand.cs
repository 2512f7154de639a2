using System.Globalization;
using Outbox.Testing;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// The <c>chaos</c> command: a private PostgreSQL cluster, then one run per relay kind, each with an embedded Kafka
/// cluster of its own in this process (the children connect to it over 127.0.0.1). Prints a line per run, then the
/// summary <c>chaos: seed=S events=N lost=0 duplicates_in_kafka=D stale_resends=R order_violations=0 double_effects=0 faults=F</c>, and
/// returns 1 when any promise was broken (0 when none, 2 when the run could not start, 3 when it was aborted).
/// </summary>
public static class ChaosCommand
{
    public static async Task<int> RunAsync(ChaosSettings settings, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(stdout);
        var directory = settings.LogDirectory
                        ?? Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"outbox-chaos-{settings.Seed}-{Environment.ProcessId}"));
        using var log = new RunLog(directory, stderr);
        using var abort = new CancellationTokenSource();
        if (settings.ExitOnStdinEof)
        {
            WatchStdin(abort, log);
        }

        log.Line(string.Create(CultureInfo.InvariantCulture,
            $"chaos: seed={settings.Seed} relays={string.Join(",", settings.Relays).ToLowerInvariant()} fault_time={settings.FaultTime.TotalSeconds:0}s " +
            $"writers={settings.Writers}x{settings.WriterConcurrency} keys={settings.Keys} logs={directory} (rerun with --seed {settings.Seed})"));

        PostgresServer postgres;
        try
        {
            postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster, Log = log.Line }, abort.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
        {
            log.Line("chaos: cannot start a private PostgreSQL cluster (the chaos run restarts it, so it needs local binaries): " + ex.Message);
            return 2;
        }

        var results = new List<RunResult>();
        await using (postgres)
        {
            foreach (var relay in settings.Relays)
            {
                RunResult result;
                try
                {
                    result = await new ChaosRun(settings, relay, postgres, log).RunAsync(abort.Token);
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    log.Line("chaos: aborted");
                    return 3;
                }

                results.Add(result);
                await stdout.WriteLineAsync(result.Line());
                foreach (var problem in result.Problems)
                {
                    await stdout.WriteLineAsync($"chaos[{relay.ToString().ToLowerInvariant()}]: FAILED: {problem}");
                }
            }
        }

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"chaos: seed={settings.Seed} events={results.Sum(r => r.Findings.Committed)} lost={results.Sum(r => r.Findings.Lost)} " +
            $"duplicates_in_kafka={results.Sum(r => r.Findings.DuplicatesInKafka)} stale_resends={results.Sum(r => r.Findings.StaleResends)} order_violations={results.Sum(r => r.Findings.OrderViolations)} " +
            $"double_effects={results.Sum(r => r.Findings.DoubleEffects)} faults={results.Sum(r => r.FaultCount)}");
        await stdout.WriteLineAsync(summary);
        log.Line(summary + (results.All(r => r.Problems.Count == 0) ? " (passed)" : " (FAILED: see above)"));
        return results.All(r => r.Problems.Count == 0) ? 0 : 1;
    }

    /// <summary>When the parent (a test) goes away, stop: children are killed, the cluster is removed.</summary>
    private static void WatchStdin(CancellationTokenSource abort, RunLog log)
    {
        var thread = new Thread(() =>
        {
            try
            {
                using var input = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (input.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            log.Line("chaos: standard input closed: aborting");
            ChildProcessRegistry.KillAll();
            abort.Cancel();
            _ = new Timer(_ => Environment.Exit(3), null, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);
        })
        { IsBackground = true, Name = "stdin watch" };
        thread.Start();
    }
}
