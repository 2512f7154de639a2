namespace Outbox;

/// <summary>
/// Names of the <see cref="System.Diagnostics.ActivitySource"/>s and <see cref="System.Diagnostics.Metrics.Meter"/>s
/// the outbox reports to, one per area. Subscribe with OpenTelemetry's <c>AddSource(...)</c> and <c>AddMeter(...)</c>,
/// or any <see cref="System.Diagnostics.ActivityListener"/> / <see cref="System.Diagnostics.Metrics.MeterListener"/>.
/// docs/operations.md lists every span, instrument and attribute.
/// </summary>
public static class OutboxDiagnostics
{
    /// <summary>The write path: the <c>enqueue</c> span around a SaveChanges (or ADO.NET write) that records events,
    /// the enqueued counter and the backlog gauges (pending rows, age of the oldest pending row).</summary>
    public const string EnqueueSourceName = "Outbox";

    /// <summary>The relays and the publisher: <c>send</c> spans (new roots linked to the trace stored with the row),
    /// published/failed/dead-lettered counters, batch duration, lanes owned, CDC slot lag.</summary>
    public const string RelaySourceName = "Outbox.Relay";

    /// <summary>The inbox: <c>process</c> spans (children of the record's <c>traceparent</c> header),
    /// handled/duplicate/dead-lettered counters and handler duration.</summary>
    public const string InboxSourceName = "Outbox.Inbox";

    /// <summary>All three names, for <c>AddSource(OutboxDiagnostics.SourceNames)</c> and <c>AddMeter(...)</c>.</summary>
    public static IReadOnlyList<string> SourceNames { get; } = [EnqueueSourceName, RelaySourceName, InboxSourceName];
}
