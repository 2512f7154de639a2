using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Outbox;

/// <summary>
/// The shared sources and instruments. Static, like the runtime's own: listeners select them by name, and tags
/// (destination, consumer group, database) tell apart several hosts in one process.
/// </summary>
internal static class OutboxTelemetry
{
    public static readonly ActivitySource EnqueueSource = new(OutboxDiagnostics.EnqueueSourceName);
    public static readonly ActivitySource RelaySource = new(OutboxDiagnostics.RelaySourceName);
    public static readonly ActivitySource InboxSource = new(OutboxDiagnostics.InboxSourceName);

    public static readonly Meter EnqueueMeter = new(OutboxDiagnostics.EnqueueSourceName);
    public static readonly Meter RelayMeter = new(OutboxDiagnostics.RelaySourceName);
    public static readonly Meter InboxMeter = new(OutboxDiagnostics.InboxSourceName);

    public static readonly Counter<long> Enqueued = EnqueueMeter.CreateCounter<long>(
        "outbox.messages.enqueued", "{message}", "Outbox rows written (counted when SaveChanges wrote them; a rollback afterwards is not subtracted).");

    public static readonly Counter<long> Sent = RelayMeter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Records handed to the broker and acknowledged (error.type set when the broker refused them).");

    public static readonly Counter<long> Published = RelayMeter.CreateCounter<long>(
        "outbox.relay.published", "{message}", "Outbox rows acknowledged by the broker and removed (or marked published) by the relay.");

    public static readonly Counter<long> Failed = RelayMeter.CreateCounter<long>(
        "outbox.relay.failed", "{message}",
        "Failed publish attempts of a row; error.type is transient (the broker or the network: retried, not counted against the row), record or permanent.");

    public static readonly Counter<long> RelayParked = RelayMeter.CreateCounter<long>(
        "outbox.relay.parked", "{key}", "Keys parked by the relay: an event failed for good, and it and every later event of its key wait for an operator.");

    public static readonly Histogram<double> BatchDuration = RelayMeter.CreateHistogram(
        "outbox.relay.batch.duration", "s", "Time to publish and settle one batch (polling: claim, publish and complete one batch of one lane).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    public static readonly Counter<long> Handled = InboxMeter.CreateCounter<long>(
        "outbox.inbox.handled", "{message}", "Records whose handlers ran and committed with their inbox row.");

    public static readonly Counter<long> Duplicates = InboxMeter.CreateCounter<long>(
        "outbox.inbox.duplicates", "{message}", "Records skipped because their id was already in the inbox.");

    public static readonly Counter<long> InboxDeadLettered = InboxMeter.CreateCounter<long>(
        "outbox.inbox.dead_lettered", "{message}", "Records sent to the dead-letter topic (handler failures after the last attempt, unknown types, malformed records).");

    public static readonly Histogram<double> HandlerDuration = InboxMeter.CreateHistogram(
        "outbox.inbox.handler.duration", "s", "Time the handlers of one record took (inside its transaction, before the commit).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    /// <summary>Starts a span that is a new root even when an activity is current, and keeps the current one current.</summary>
    public static Activity? StartRoot(ActivitySource source, string name, ActivityKind kind, TagList tags, IEnumerable<ActivityLink>? links)
    {
        if (!source.HasListeners())
        {
            return null;
        }

        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            return source.StartActivity(kind, default, tags, links, default, name);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    /// <summary>Parses a W3C <c>traceparent</c> (and <c>tracestate</c>); default when absent or malformed.</summary>
    public static ActivityContext ParseTraceParent(string? traceParent, string? traceState) =>
        traceParent is { Length: > 0 } && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
}
