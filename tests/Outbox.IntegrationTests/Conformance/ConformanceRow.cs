namespace Outbox.IntegrationTests.Conformance;

/// <summary>One outbox row with every value fixed, so that it can be written identically into several databases.</summary>
public sealed record ConformanceRow(
    Guid Id,
    string AggregateType,
    string AggregateId,
    string Type,
    string Payload,
    string? TraceParent,
    string? TraceState,
    int Transaction);
