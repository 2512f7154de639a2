using Confluent.Kafka;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// The faults of one run, a pure function of the seed: the same seed gives the same faults, targets, times and
/// durations. Every kind occurs at least once (the first faults are the kinds in a seeded order); then kinds are drawn
/// by weight, one fault every 1.5 to 4 seconds. A process is not killed or paused again within 2 s of its restart or
/// resumption, one relay at most is paused at a time, brokers are not taken down while down, and delays do not overlap,
/// so every recovery step undoes exactly its own fault. Pauses are planned in polling runs only (see
/// <see cref="KindsOf"/>).
/// </summary>
public sealed class FaultPlan
{
    /// <summary>Retriable produce errors: librdkafka retries them itself (the idempotent producer keeps order).</summary>
    public static readonly IReadOnlyList<ErrorCode> RetriableProduceErrors =
    [
        ErrorCode.NotLeaderForPartition,
        ErrorCode.LeaderNotAvailable,
        ErrorCode.RequestTimedOut,
        ErrorCode.NotEnoughReplicas,
        ErrorCode.NotEnoughReplicasAfterAppend,
    ];

    private static readonly (FaultKind Kind, int Weight)[] Weights =
    [
        (FaultKind.KillRelay, 25),
        (FaultKind.KillConsumer, 20),
        (FaultKind.BrokersDown, 10),
        (FaultKind.PostgresRestart, 10),
        (FaultKind.ProduceErrors, 20),
        (FaultKind.NetworkDelay, 15),
        (FaultKind.PauseRelay, 10),
    ];

    /// <summary>Gets how much longer than the relay's lease a pause lasts, at least, so that another relay takes its lanes over.</summary>
    public static readonly TimeSpan PauseBeyondLease = TimeSpan.FromSeconds(1.5);

    private FaultPlan(int seed, RelayKind relay, TimeSpan duration, IReadOnlyList<Fault> faults)
    {
        Seed = seed;
        Relay = relay;
        Duration = duration;
        Faults = faults;
        Actions = faults.SelectMany(f => f.Actions).OrderBy(a => a.At).ThenBy(a => a.Fault).ToList();
    }

    public int Seed { get; }

    public RelayKind Relay { get; }

    public TimeSpan Duration { get; }

    public IReadOnlyList<Fault> Faults { get; }

    /// <summary>Gets every step of every fault, in time order.</summary>
    public IReadOnlyList<FaultAction> Actions { get; }

    public static FaultPlan Create(int seed, RelayKind relay, TimeSpan duration, int relays, int consumers, int brokers, IReadOnlyCollection<FaultKind>? kinds = null)
    {
        var allowed = KindsOf(relay).Where(k => kinds is null || kinds.Contains(k)).ToList();
        var random = new Random(seed);
        var state = new PlanState(relays, consumers);
        var faults = new List<Fault>();
        var mandatory = Enum.GetValues<FaultKind>().OrderBy(_ => random.Next()).Where(allowed.Contains).ToList();
        if (relay == RelayKind.Cdc && mandatory.IndexOf(FaultKind.BrokersDown) is var down and >= 0 && mandatory.IndexOf(FaultKind.PostgresRestart) > down)
        {
            // The restart must not follow the outage closely (see below): in a short run, let it come first.
            mandatory.Remove(FaultKind.PostgresRestart);
            mandatory.Insert(down, FaultKind.PostgresRestart);
        }

        var end = duration.TotalSeconds - 1;
        var t = 2.0;
        while (t < end && allowed.Count > 0)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var kind = attempt == 0 && mandatory.Count > 0 ? mandatory[0] : Pick(random, allowed);
                var actions = TryCreate(kind, faults.Count + 1, t, random, state, relay, brokers);
                if (actions is not null)
                {
                    faults.Add(new Fault(faults.Count + 1, kind, actions));
                    mandatory.Remove(kind);
                    break;
                }
            }

            var gap = 1.5 + (random.NextDouble() * 2.5);
            if (mandatory.Count > 0)
            {
                // Short runs: squeeze the kinds not yet seen into the time left.
                gap = Math.Min(gap, Math.Max(0.5, (end - t) / (mandatory.Count + 1)));
            }

            t += gap;
        }

        return new FaultPlan(seed, relay, duration, faults);
    }

    /// <summary>
    /// The fault kinds a run of <paramref name="relay"/> can get. CDC runs get no <see cref="FaultKind.PauseRelay"/>: a
    /// paused CDC relay keeps its walsender, and so the slot, active until <c>wal_sender_timeout</c> (60 s by default),
    /// so no standby could take over within a pause; that fault would need a shorter timeout on the test cluster.
    /// </summary>
    public static IReadOnlyList<FaultKind> KindsOf(RelayKind relay) =>
        relay == RelayKind.Cdc ? Enum.GetValues<FaultKind>().Where(k => k != FaultKind.PauseRelay).ToList() : Enum.GetValues<FaultKind>();

    private static FaultKind Pick(Random random, IReadOnlyCollection<FaultKind> allowed)
    {
        var weights = Weights.Where(w => allowed.Contains(w.Kind)).ToList();
        var roll = random.Next(weights.Sum(w => w.Weight));
        foreach (var (kind, weight) in weights)
        {
            if (roll < weight)
            {
                return kind;
            }

            roll -= weight;
        }

        throw new InvalidOperationException("unreachable");
    }

    private static List<FaultAction>? TryCreate(FaultKind kind, int fault, double t, Random random, PlanState state, RelayKind relay, int brokers)
    {
        static TimeSpan S(double seconds) => TimeSpan.FromSeconds(Math.Round(seconds, 2));
        switch (kind)
        {
            case FaultKind.KillRelay when relay == RelayKind.Cdc:
            {
                if (state.CdcFreeAt > t)
                {
                    return null;
                }

                var down = 0.3 + (random.NextDouble() * 2.7);
                state.CdcFreeAt = t + down + 2;
                return [new(S(t), FaultActionKind.KillRelay, fault), new(S(t + down), FaultActionKind.StartRelay, fault)];
            }

            case FaultKind.KillRelay:
            case FaultKind.KillConsumer:
            {
                var upAt = kind == FaultKind.KillRelay ? state.RelayUpAt : state.ConsumerUpAt;
                var candidates = Enumerable.Range(1, upAt.Length).Where(i => upAt[i - 1] <= t).ToList();
                if (candidates.Count == 0)
                {
                    return null;
                }

                var target = candidates[random.Next(candidates.Count)];
                var down = 0.3 + (random.NextDouble() * 2.7);
                upAt[target - 1] = t + down + 2;
                return kind == FaultKind.KillRelay
                    ? [new(S(t), FaultActionKind.KillRelay, fault, target), new(S(t + down), FaultActionKind.StartRelay, fault, target)]
                    : [new(S(t), FaultActionKind.KillConsumer, fault, target), new(S(t + down), FaultActionKind.StartConsumer, fault, target)];
            }

            case FaultKind.PauseRelay:
            {
                // Longer than the lease, so that another relay takes the lanes over while this one sleeps with whatever
                // it had claimed; one at a time, so that another relay is there to take them.
                var candidates = Enumerable.Range(1, state.RelayUpAt.Length).Where(i => state.RelayUpAt[i - 1] <= t).ToList();
                if (candidates.Count == 0 || state.PauseFreeAt > t)
                {
                    return null;
                }

                var target = candidates[random.Next(candidates.Count)];
                var paused = (Roles.RelayRole.LeaseDuration + PauseBeyondLease).TotalSeconds + (random.NextDouble() * 3.5);
                state.RelayUpAt[target - 1] = t + paused + 2;
                state.PauseFreeAt = t + paused + 0.5;
                return [new(S(t), FaultActionKind.PauseRelay, fault, target), new(S(t + paused), FaultActionKind.ResumeRelay, fault, target)];
            }

            case FaultKind.BrokersDown:
            {
                if (state.BrokersUpAt > t)
                {
                    return null;
                }

                var down = 3 + (random.NextDouble() * 5);
                state.BrokersUpAt = t + down + 1;
                return [new(S(t), FaultActionKind.BrokersDown, fault), new(S(t + down), FaultActionKind.BrokersUp, fault)];
            }

            case FaultKind.PostgresRestart:
            {
                // PostgreSQL 15 does not finish a fast shutdown until every logical walsender's client confirmed all WAL
                // sent to it; a CDC relay confirms only what Kafka acknowledged, so with the brokers down the restart
                // would hang (docs/reliability.md). CDC runs restart the database only well after the brokers are back.
                if (state.PostgresFreeAt > t || (relay == RelayKind.Cdc && t < state.BrokersUpAt + 12))
                {
                    return null;
                }

                state.PostgresFreeAt = t + 4;
                return [new(S(t), FaultActionKind.PostgresRestart, fault)];
            }

            case FaultKind.ProduceErrors:
            {
                var errors = Enumerable.Range(0, random.Next(1, 7))
                    .Select(_ => RetriableProduceErrors[random.Next(RetriableProduceErrors.Count)])
                    .ToList();
                return [new(S(t), FaultActionKind.ProduceErrors, fault, Errors: errors)];
            }

            case FaultKind.NetworkDelay:
            {
                if (state.RttFreeAt > t)
                {
                    return null;
                }

                var broker = random.Next(0, brokers + 1);
                var milliseconds = random.Next(20, 401);
                var duration = 2 + (random.NextDouble() * 6);
                state.RttFreeAt = t + duration + 0.5;
                return [new(S(t), FaultActionKind.SetRtt, fault, broker, milliseconds), new(S(t + duration), FaultActionKind.ClearRtt, fault, broker)];
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private sealed class PlanState(int relays, int consumers)
    {
        public double[] RelayUpAt { get; } = new double[relays];

        public double[] ConsumerUpAt { get; } = new double[consumers];

        public double CdcFreeAt { get; set; }

        public double BrokersUpAt { get; set; } = -100;

        public double PostgresFreeAt { get; set; }

        public double RttFreeAt { get; set; }

        public double PauseFreeAt { get; set; }
    }
}
