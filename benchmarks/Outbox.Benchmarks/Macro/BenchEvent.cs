namespace Outbox.Benchmarks.Macro;

/// <summary>
/// The event every macro scenario writes. <see cref="Seq"/> counts the events of one account, so a reader of the
/// topic can tell lost, duplicated and reordered records apart.
/// </summary>
public sealed record BenchEvent(string AccountId, long Seq, decimal Amount, string Note);
