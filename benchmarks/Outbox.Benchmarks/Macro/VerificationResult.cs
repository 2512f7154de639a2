namespace Outbox.Benchmarks.Macro;

/// <summary>What reading the topic back found: events never seen, records seen more than once, and per-key order inversions.</summary>
internal sealed record VerificationResult(long Expected, long Received, long Distinct, long Lost, long Duplicates, long OrderViolations, long Unexpected);
