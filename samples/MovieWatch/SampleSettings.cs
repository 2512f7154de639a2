namespace MovieWatch;

/// <summary>Command-line settings: <c>[demo] [--relay polling|cdc|debezium] [--users N] [--watches N] [--concurrency N] [--rate N]</c>.</summary>
public sealed record SampleSettings(bool Demo, string Relay, int Users, int Watches, int Concurrency, string[] HostArgs)
{
    /// <summary>Gets the demo's pace in watches per second (0: as fast as the users can press).</summary>
    public int Rate { get; init; } = 100;

    public static readonly string[] Relays = ["polling", "cdc", "debezium"];

    public static SampleSettings Parse(string[] args)
    {
        var demo = args.Length > 0 && args[0] == "demo";
        var relay = "polling";
        var users = demo ? 50 : 8;
        var watches = 1000;
        var concurrency = 16;
        var rate = 100;
        var rest = new List<string>();
        for (var i = demo ? 1 : 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--relay":
                    relay = Value(ref i).ToLowerInvariant();
                    if (!Relays.Contains(relay))
                    {
                        throw new ArgumentException($"--relay must be one of {string.Join(", ", Relays)}; got '{relay}'.");
                    }

                    break;
                case "--users":
                    users = Positive(ref i, "--users");
                    break;
                case "--watches":
                    watches = Positive(ref i, "--watches");
                    break;
                case "--concurrency":
                    concurrency = Positive(ref i, "--concurrency");
                    break;
                case "--rate":
                    rate = int.TryParse(Value(ref i), out var r) && r >= 0 ? r : throw new ArgumentException("--rate must be a whole number of watches per second (0: as fast as possible).");
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }

        if (demo && relay == "debezium")
        {
            // Refused before anything starts: the demo waits for events that only an in-process relay would publish.
            throw new ArgumentException(
                "The demo needs a relay in this process: use --relay polling or --relay cdc. With --relay debezium, run the app " +
                "without 'demo': it writes the outbox rows and prints the Kafka Connect configuration for Debezium.");
        }

        return new SampleSettings(demo, relay, users, watches, concurrency, rest.ToArray()) { Rate = rate };

        string Value(ref int i) => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");

        int Positive(ref int i, string name) =>
            int.TryParse(Value(ref i), out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive whole number.");
    }
}
