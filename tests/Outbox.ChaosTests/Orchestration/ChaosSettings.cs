using System.Globalization;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// Options of the <c>chaos</c> command. The fault time is shared by the runs: with both relays, the polling run gets two
/// thirds of it and the CDC run one third. Everything random is derived from <see cref="Seed"/>.
/// </summary>
public sealed record ChaosSettings
{
    public int Seed { get; init; } = Random.Shared.Next(1, int.MaxValue);

    public TimeSpan FaultTime { get; init; } = TimeSpan.FromSeconds(60);

    public IReadOnlyList<RelayKind> Relays { get; init; } = [RelayKind.Polling, RelayKind.Cdc];

    public int Writers { get; init; } = 2;

    public int WriterConcurrency { get; init; } = 2;

    public int WriterDelayMilliseconds { get; init; } = 20;

    public int Keys { get; init; } = 200;

    /// <summary>Gets how far the slowest consumer group may fall behind the writers before they pause (back-pressure).</summary>
    public int MaxLag { get; init; } = 2000;

    public int Partitions { get; init; } = 12;

    public int PollingRelays { get; init; } = 3;

    public int CdcRelays { get; init; } = 2;

    public int Consumers { get; init; } = 2;

    public int Brokers { get; init; } = 3;

    /// <summary>Gets how long a run may take, after the faults end and the writers stop, to relay and handle everything.</summary>
    /// <value>By default 90 s, or half the run's fault time when that is longer: on a busy machine the one-record-per-
    /// transaction group falls behind the writers, and a long run leaves it more to catch up.</value>
    public TimeSpan? QuietTimeout { get; init; }

    public TimeSpan QuietTimeoutOf(RelayKind kind) =>
        QuietTimeout ?? TimeSpan.FromSeconds(Math.Max(90, FaultTimeOf(kind).TotalSeconds / 2));

    public string? LogDirectory { get; init; }

    /// <summary>Gets librdkafka debug contexts for the consumers (<c>--kafka-debug cgrp,fetch</c>), logged to their files.</summary>
    public string? KafkaDebug { get; init; }

    /// <summary>Gets librdkafka debug contexts for the relays' producers (<c>--relay-kafka-debug msg,eos</c>), logged to their files.</summary>
    public string? RelayKafkaDebug { get; init; }

    /// <summary>Gets the fault kinds a plan may use; all by default (<c>--faults kill-relay,brokers-down</c> narrows a hunt).</summary>
    public IReadOnlyList<FaultKind> FaultKinds { get; init; } = Enum.GetValues<FaultKind>();

    /// <summary>Gets a value indicating whether the orchestrator ends (killing its children) when its standard input closes: set by tests.</summary>
    public bool ExitOnStdinEof { get; init; }

    public TimeSpan FaultTimeOf(RelayKind kind) =>
        Relays.Count == 1 ? FaultTime
        : kind == RelayKind.Polling ? FaultTime * 2 / 3
        : FaultTime - (FaultTime * 2 / 3);

    /// <summary>The seed of one run's fault plan: the same settings give the same plans.</summary>
    public int SeedOf(RelayKind kind) => Mix(Seed, (int)kind + 1);

    /// <summary>A deterministic mix of two numbers into a positive seed (<see cref="HashCode"/> is randomized per process).</summary>
    public static int Mix(int a, int b)
    {
        unchecked
        {
            var x = ((ulong)(uint)a << 32) | (uint)b;
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
            return (int)(x & 0x7fffffff);
        }
    }

    public static ChaosSettings Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var settings = new ChaosSettings();
        for (var i = 0; i < args.Count; i++)
        {
            settings = args[i] switch
            {
                "--seconds" => settings with { FaultTime = TimeSpan.FromSeconds(Positive(args, ref i)) },
                "--minutes" => settings with { FaultTime = TimeSpan.FromMinutes(Positive(args, ref i)) },
                "--seed" => settings with { Seed = Positive(args, ref i) },
                "--relay" => settings with { Relays = ParseRelays(Value(args, ref i)) },
                "--writers" => settings with { Writers = Positive(args, ref i) },
                "--concurrency" => settings with { WriterConcurrency = Positive(args, ref i) },
                "--delay-ms" => settings with { WriterDelayMilliseconds = NonNegative(args, ref i) },
                "--keys" => settings with { Keys = Positive(args, ref i) },
                "--max-lag" => settings with { MaxLag = Positive(args, ref i) },
                "--quiet-seconds" => settings with { QuietTimeout = TimeSpan.FromSeconds(Positive(args, ref i)) },
                "--log-dir" => settings with { LogDirectory = Value(args, ref i) },
                "--kafka-debug" => settings with { KafkaDebug = Value(args, ref i) },
                "--relay-kafka-debug" => settings with { RelayKafkaDebug = Value(args, ref i) },
                "--faults" => settings with { FaultKinds = ParseFaults(Value(args, ref i)) },
                "--exit-on-stdin-eof" => settings with { ExitOnStdinEof = true },
                _ => throw new UsageException($"Unknown option '{args[i]}'."),
            };
        }

        if (settings.FaultTimeOf(RelayKind.Cdc) < TimeSpan.FromSeconds(10) || settings.FaultTimeOf(RelayKind.Polling) < TimeSpan.FromSeconds(10))
        {
            throw new UsageException("The fault time is too short: give each run at least 10 seconds (--seconds 30 with both relays).");
        }

        return settings;
    }

    private static IReadOnlyList<RelayKind> ParseRelays(string value) => value switch
    {
        "polling" => [RelayKind.Polling],
        "cdc" => [RelayKind.Cdc],
        "both" => [RelayKind.Polling, RelayKind.Cdc],
        _ => throw new UsageException($"--relay must be polling, cdc or both; got '{value}'."),
    };

    private static List<FaultKind> ParseFaults(string value)
    {
        var kinds = new List<FaultKind>();
        foreach (var name in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kind = Enum.GetValues<FaultKind>().FirstOrDefault(k => FaultNames.Of(k) == name, (FaultKind)(-1));
            if ((int)kind < 0)
            {
                throw new UsageException($"--faults takes {string.Join(", ", Enum.GetValues<FaultKind>().Select(FaultNames.Of))}; got '{name}'.");
            }

            kinds.Add(kind);
        }

        return kinds.Count > 0 ? kinds : throw new UsageException("--faults needs at least one fault kind.");
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        i + 1 < args.Count ? args[++i] : throw new UsageException($"{args[i]} needs a value.");

    private static int Positive(IReadOnlyList<string> args, ref int i)
    {
        var name = args[i];
        return int.TryParse(Value(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new UsageException($"{name} must be a positive whole number.");
    }

    private static int NonNegative(IReadOnlyList<string> args, ref int i)
    {
        var name = args[i];
        return int.TryParse(Value(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new UsageException($"{name} must be a whole number.");
    }
}
