using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// One idle relay process over every database of the connections scenario, with one <c>MaxListeningDatabases</c>: its
/// start-up, the connections it held after the settle time and after the CPU window, its idle CPU, and the connections left
/// once it stopped.
/// </summary>
internal sealed record FleetConnectionsRun(
    int MaxListeningDatabases,
    int Databases,
    double StartSeconds,
    double ReadySeconds,
    FleetConnectionCounts Settled,
    FleetConnectionCounts AfterCpuWindow,
    long AfterStop,
    CpuUsage Cpu,
    double PostgresTransactionsPerSecond,
    double WorkingSetMiB,
    IReadOnlyList<string> ByStatement);
