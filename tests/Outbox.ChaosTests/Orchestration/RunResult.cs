using System.Globalization;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>The outcome of one run: the verifier's findings plus what the database, the dead-letter topic and the processes said.</summary>
public sealed record RunResult
{
    public required RelayKind Relay { get; init; }

    public required int Seed { get; init; }

    public required RunFindings Findings { get; init; }

    public long RolledBackEvents { get; init; }

    public long FailedTransactions { get; init; }

    public long UncertainCommits { get; init; }

    public long SequenceViolations { get; init; }

    public long DeadLetterRows { get; init; }

    public long DeadLetterRecords { get; init; }

    public long PendingRows { get; init; }

    public long WriterInconsistencies { get; init; }

    /// <summary>Gets committed events whose transaction wrote no outbox row (EF Core path: none seen at save).</summary>
    public long MissingOutboxRows { get; init; }

    public IReadOnlyList<string> Crashes { get; init; } = [];

    public IReadOnlyList<int> TruncatedPartitions { get; init; } = [];

    public IReadOnlyList<string> InfrastructureErrors { get; init; } = [];

    public IReadOnlyDictionary<FaultKind, int> Faults { get; init; } = new Dictionary<FaultKind, int>();

    public int PlannedFaults { get; init; }

    public TimeSpan Quiet { get; init; }

    public bool Drained { get; init; }

    /// <summary>Gets how long the writers were paused for the consumers to catch up (back-pressure), in seconds.</summary>
    public int WriterPausedSeconds { get; init; }

    public IReadOnlyList<string> SequenceExamples { get; init; } = [];

    public int FaultCount => Faults.Values.Sum();

    /// <summary>Gets every broken promise (and every reason the run cannot vouch for them); empty when the run passed.</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            var problems = new List<string>();
            var f = Findings;
            Add(problems, f.Committed == 0, "no event committed: the run proves nothing");
            Add(problems, f.Lost > 0, $"{f.Lost} committed event(s) never reached Kafka");
            Add(problems, f.Phantoms > 0, $"{f.Phantoms} record(s) of events that never committed reached Kafka");
            Add(problems, f.OrderViolations > 0, $"{f.OrderViolations} per-key order violation(s) in Kafka");
            Add(problems, f.Unreadable > 0, $"{f.Unreadable} unreadable record(s) in Kafka");
            Add(problems, f.Mismatches > 0, $"{f.Mismatches} record(s) disagree with the writers' tables or each other");
            Add(problems, f.MissingEffects > 0, $"{f.MissingEffects} missing consumer effect(s)");
            Add(problems, f.DoubleEffects > 0, $"{f.DoubleEffects} double consumer effect(s)");
            Add(problems, f.PhantomEffects > 0, $"{f.PhantomEffects} effect(s) of events that never committed");
            Add(problems, SequenceViolations > 0, $"{SequenceViolations} per-key sequence violation(s) seen by the handlers");
            Add(problems, DeadLetterRows > 0, $"{DeadLetterRows} row(s) in the outbox dead-letter table");
            Add(problems, DeadLetterRecords > 0, $"{DeadLetterRecords} record(s) on the consumers' dead-letter topic");
            Add(problems, PendingRows > 0, $"{PendingRows} outbox row(s) still pending");
            Add(problems, MissingOutboxRows > 0, $"{MissingOutboxRows} committed event(s) whose SaveChanges wrote no outbox row");
            Add(problems, WriterInconsistencies > 0, $"{WriterInconsistencies} aggregate(s) whose committed versions are not 1..n (the run's own bookkeeping is broken)");
            Add(problems, TruncatedPartitions.Count > 0, $"the embedded broker dropped the start of partition(s) {string.Join(",", TruncatedPartitions)} (too much data for it: shorten the run or lower the rate)");
            Add(problems, !Drained, "the outbox was not drained and handled within the quiet period");
            problems.AddRange(Crashes.Select(c => "crash: " + c));
            problems.AddRange(InfrastructureErrors.Select(e => "infrastructure: " + e));
            return problems;
        }
    }

    public string Line() => string.Create(
        CultureInfo.InvariantCulture,
        $"chaos[{Relay.ToString().ToLowerInvariant()}]: seed={Seed} events={Findings.Committed} rolled_back={RolledBackEvents} kafka_records={Findings.KafkaRecords} " +
        $"lost={Findings.Lost} phantoms={Findings.Phantoms} duplicates_in_kafka={Findings.DuplicatesInKafka} stale_resends={Findings.StaleResends} order_violations={Findings.OrderViolations} " +
        $"missing_effects={Findings.MissingEffects} double_effects={Findings.DoubleEffects} sequence_violations={SequenceViolations} " +
        $"dead_letters={DeadLetterRows + DeadLetterRecords} pending={PendingRows} crashes={Crashes.Count} faults={FaultCount} " +
        $"({string.Join(" ", Faults.Where(p => p.Value > 0).Select(p => FaultNames.Of(p.Key) + "=" + p.Value.ToString(CultureInfo.InvariantCulture)))}) " +
        $"failed_tx={FailedTransactions} uncertain_commits={UncertainCommits} writers_paused={WriterPausedSeconds}s quiet={Quiet.TotalSeconds:0.0}s");

    private static void Add(List<string> problems, bool condition, string problem)
    {
        if (condition)
        {
            problems.Add(problem);
        }
    }
}
