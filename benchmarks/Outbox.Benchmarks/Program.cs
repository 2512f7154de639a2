using BenchmarkDotNet.Running;
using Outbox.Benchmarks.Infrastructure;
using Outbox.Benchmarks.Macro;
using Outbox.Benchmarks.Macro.Fleet;
using Outbox.Benchmarks.Micro;
using Outbox.Benchmarks.Report;

namespace Outbox.Benchmarks;

/// <summary>
/// Macro scenarios by first argument (<c>baselines</c>, <c>throughput</c>, <c>latency</c>, <c>inbox</c>, <c>fleet</c>, <c>report</c>); anything
/// else goes to BenchmarkDotNet's switcher (micro-benchmarks: <c>--filter *</c>, <c>--list flat</c>, ...).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var command = args.Length > 0 ? args[0].ToLowerInvariant() : "";
        if (command == "profile-write-path")
        {
            var options = new BenchArguments(args.Skip(1));
            var entities = options.GetInt("entities", 100);
            var iterations = options.GetInt("iterations", 200);
            options.ThrowIfUnknown();
            await using var server = await MicroDatabase.ShareWithChildProcessesAsync([]);
            await Console.Out.WriteAsync(await WritePathProfile.RunAsync(entities, iterations));
            return 0;
        }

        if (command is not ("baselines" or "throughput" or "latency" or "live" or "inbox" or "inbox-latency" or "fleet" or "report"))
        {
            await using var database = await MicroDatabase.ShareWithChildProcessesAsync(args);
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            var options = new BenchArguments(args.Skip(1));
            await using var infrastructure = await BenchInfrastructure.StartAsync(command == "fleet" ? FleetCommand.PostgresSettings : null, cancel.Token);
            switch (command)
            {
                case "baselines":
                {
                    var messages = options.GetInt("messages", 200_000);
                    var writers = options.GetInt("writers", 4);
                    var drainWorkers = options.GetInt("drain-workers", 1);
                    var partitions = options.GetInt("partitions", 32);
                    options.ThrowIfUnknown();
                    Emit(await BaselinesScenario.RunAsync(infrastructure, messages, writers, drainWorkers, partitions, cancel.Token));
                    break;
                }

                case "throughput":
                {
                    var relay = ParseRelay(options);
                    var messages = options.GetInt("messages", 200_000);
                    var writers = options.GetInt("writers", relay == RelayKind.Polling ? 1 : 4);
                    var partitions = options.GetInt("partitions", 32);
                    int? linger = options.GetString("linger-ms", "") is { Length: > 0 } l ? int.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : null;
                    var mode = options.GetString("mode", "live");
                    int? inFlight = options.GetString("batches-in-flight", "") is { Length: > 0 } f ? int.Parse(f, System.Globalization.CultureInfo.InvariantCulture) : null;
                    if (mode is not ("live" or "catch-up") || (mode == "catch-up" && relay != RelayKind.Cdc))
                    {
                        throw new ArgumentException($"--mode must be live or catch-up (catch-up with --relay cdc only), not '{mode}'.");
                    }

                    options.ThrowIfUnknown();
                    Emit(await ThroughputScenario.RunAsync(infrastructure, relay, messages, writers, partitions, cancel.Token, linger, mode == "catch-up", inFlight));
                    break;
                }

                case "latency":
                {
                    var relay = ParseRelay(options);
                    var rate = options.GetInt("rate", 500);
                    var seconds = options.GetInt("seconds", 30);
                    var partitions = options.GetInt("partitions", 32);
                    int? linger = options.GetString("linger-ms", "") is { Length: > 0 } l ? int.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : null;
                    int? poisonEvery = options.GetString("poison-every", "") is { Length: > 0 } pe ? int.Parse(pe, System.Globalization.CultureInfo.InvariantCulture) : null;
                    var keys = options.GetInt("keys", 1000);
                    options.ThrowIfUnknown();
                    Emit(await LatencyScenario.RunAsync(infrastructure, relay, rate, seconds, partitions, cancel.Token, linger, poisonEvery, keys));
                    break;
                }

                case "live":
                {
                    var modes = options.GetString("relay", "all") switch
                    {
                        "all" => LiveModes.Goals,
                        "breakdown" => LiveModes.Breakdown,
                        var one when LiveModes.Parse(one) is { } mode => [mode],
                        var other => throw new ArgumentException($"--relay must be all, breakdown, dual-write, polling, cdc, save-only, polling-write-only or cdc-write-only, not '{other}'."),
                    };
                    var rate = options.GetString("rate", "500") is "closed" ? 0 : options.GetInt("rate", 500);
                    var eventsPerTransaction = options.GetInt("events-per-tx", 1);
                    var seconds = options.GetInt("seconds", 20);
                    var writers = options.GetInt("writers", 4);
                    var partitions = options.GetInt("partitions", 32);
                    var appOptions = options.GetString("app-connection-options", "");
                    options.ThrowIfUnknown();
                    await LiveScenario.RunAsync(infrastructure, modes, rate, eventsPerTransaction, seconds, writers, partitions, Emit, cancel.Token, appOptions);
                    break;
                }

                case "inbox":
                {
                    var messages = options.GetInt("messages", 100_000);
                    var batch = options.GetInt("batch", 1);
                    var partitions = options.GetInt("partitions", 16);
                    options.ThrowIfUnknown();
                    Emit(await InboxScenario.RunAsync(infrastructure, messages, batch, partitions, cancel.Token));
                    break;
                }

                case "inbox-latency":
                {
                    var rate = options.GetInt("rate", 500);
                    var seconds = options.GetInt("seconds", 30);
                    var keys = options.GetInt("keys", 200);
                    var partitions = options.GetInt("partitions", 16);
                    int? poisonEvery = options.GetString("poison-every", "") is { Length: > 0 } pe ? int.Parse(pe, System.Globalization.CultureInfo.InvariantCulture) : null;
                    options.ThrowIfUnknown();
                    Emit(await InboxLatencyScenario.RunAsync(infrastructure, rate, seconds, keys, partitions, poisonEvery, cancel.Token));
                    break;
                }

                case "fleet":
                {
                    var settings = FleetSettings.From(options);
                    options.ThrowIfUnknown();
                    await FleetCommand.RunAsync(infrastructure, settings, args, Emit, cancel.Token);
                    break;
                }

                case "report":
                {
                    var settings = ReportSettings.From(options);
                    options.ThrowIfUnknown();
                    await ReportCommand.RunAsync(infrastructure, settings, Emit, cancel.Token);
                    break;
                }
            }

            return 0;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return 130;
        }
    }

    private const string Usage = """
        usage: dotnet run -c Release --project benchmarks/Outbox.Benchmarks -- <command> [options]
          baselines   [--messages 200000] [--writers 4] [--drain-workers 1] [--partitions 32]
          throughput  --relay polling|cdc [--messages 200000] [--writers 1 (polling) / 4 (cdc)] [--partitions 32] [--linger-ms <override the producer's default>]
                      [--mode live|catch-up (cdc: events written while the relay is stopped, then drained)] [--batches-in-flight <cdc: override 4>]
          latency     --relay polling|cdc [--rate 500] [--seconds 30] [--partitions 32] [--linger-ms <override the producer's default>]
                      [--keys 1000] [--poison-every <N: every N-th measured event is one the relay's producer refuses; p99 of the other keys>]
          live        [--relay all|breakdown|dual-write|polling|cdc|save-only|polling-write-only|cdc-write-only] [--rate 500 | --rate closed] [--events-per-tx 1] [--seconds 20] [--writers 4] [--partitions 32]
                      [--app-connection-options "No Reset On Close=true" (added to the application's connection string only)]
                      (EF Core writers as an application writes, relay and consumer in process, the dual-write baseline in the same run)
          inbox       [--messages 100000] [--batch 1] [--partitions 16]
          inbox-latency [--rate 500] [--seconds 30] [--keys 200] [--partitions 16] [--poison-every <N: every N-th measured record always fails its handler>]
          fleet       [--scenario all|fairness|scale|connections] (one relay process over many databases of one cluster; tables on stderr)
                      fairness:    [--databases 10] [--rate 20 (each cold database, tx/s)] [--hot-factor 50] [--seconds 20] [--partitions 32]
                      scale:       [--messages 50000] [--databases 20] [--partitions 32]
                      connections: [--databases 200] [--max-listening 16,0] [--settle-seconds 15] [--cpu-seconds 10]
          profile-write-path [--entities 100] [--iterations 200]   (time and allocations of the SaveChanges shapes, by type)
          report      [--messages 200000] [--writers 4] [--rate 500] [--seconds 30] [--partitions 32] [--inbox-messages 100000] [--live-seconds 15]
                      [--out benchmarks/results] [--micro <BenchmarkDotNet results directory to include>]
          anything else: BenchmarkDotNet micro-benchmarks, e.g. --filter '*' or --list flat
        OUTBOX_BENCH_POSTGRES (connection string) and OUTBOX_BENCH_KAFKA (bootstrap servers) name existing servers.
        """;

    private static RelayKind ParseRelay(BenchArguments options) =>
        options.GetString("relay", "") switch
        {
            "polling" => RelayKind.Polling,
            "cdc" => RelayKind.Cdc,
            var other => throw new ArgumentException($"--relay must be polling or cdc, not '{other}'."),
        };

    private static void Emit(ScenarioResult result)
    {
        Console.Out.WriteLine(result.ToJsonLine());
        Console.Out.Flush();
    }
}
