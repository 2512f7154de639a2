namespace Outbox.Benchmarks.Macro;

/// <summary>The relay a scenario measures.</summary>
internal enum RelayKind
{
    Polling,
    Cdc,
}
