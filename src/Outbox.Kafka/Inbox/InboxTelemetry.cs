using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// The inbox's <c>process</c> span (a child of the record's <c>traceparent</c>) and its instruments, on the container's
/// <c>Outbox.Inbox</c> meter.
/// </summary>
internal sealed class InboxTelemetry
{
    // The progress of every running consumer host of this container: the gauges read their parked keys.
    private readonly ConcurrentDictionary<InboxProgress, byte> _sources = new();
    private readonly Counter<long> _handled;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _deadLettered;
    private readonly Histogram<double> _handlerDuration;
    private readonly Counter<long> _parked;
    private readonly Counter<long> _deadLetterFallbacks;
    private readonly Counter<long> _transientFailures;
    private readonly Counter<long> _replayed;

    public InboxTelemetry(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(OutboxDiagnostics.InboxSourceName);
        _handled = meter.CreateCounter<long>(
            "outbox.inbox.handled", "{message}", "Records whose handlers ran and committed with their inbox row.");
        _duplicates = meter.CreateCounter<long>(
            "outbox.inbox.duplicates", "{message}", "Records skipped because their id was already in the inbox.");
        _deadLettered = meter.CreateCounter<long>(
            "outbox.inbox.dead_lettered", "{message}", "Records sent to the dead-letter topic (handler failures after the last attempt, unknown types, malformed records).");
        _handlerDuration = meter.CreateHistogram(
            "outbox.inbox.handler.duration", "s", "Time the handlers of one record took (inside its transaction, before the commit).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _parked = meter.CreateCounter<long>(
            "outbox.inbox.parked", "{message}", "Records stored in the parked table: failed for good (outbox.inbox.park.state=parked), held behind a parked key (held), or kept because the dead-letter topic refused them (dead_letter).");
        _deadLetterFallbacks = meter.CreateCounter<long>(
            "outbox.inbox.dead_letter_fallbacks", "{message}", "Dead letters the dead-letter topic refused; each was stored in the parked table instead.");
        _transientFailures = meter.CreateCounter<long>(
            "outbox.inbox.transient_failures", "{failure}", "Inbox transactions that failed for a transient reason (connection loss, serialization failure, deadlock) and are retried without counting an attempt.");
        _replayed = meter.CreateCounter<long>(
            "outbox.inbox.replayed", "{message}", "Parked and held records an operator's replay took out of the parked table (handled, duplicates, or sent to the dead-letter topic).");
        meter.CreateObservableGauge(
            "outbox.inbox.parked_keys", ParkedKeyMeasurements, "{key}", "Parked keys in the partitions this process owns, per consumer group.");
        meter.CreateObservableGauge(
            "outbox.inbox.parked_keys.oldest_age", OldestParkedAgeMeasurements, "s", "Age of the oldest parked key in the partitions this process owns, per consumer group (0 when none).");
    }

    public void AddSource(InboxProgress progress) => _sources.TryAdd(progress, 0);

    public void RemoveSource(InboxProgress progress) => _sources.TryRemove(progress, out _);

    public void TransientFailure(InboxRecord record, string consumerGroup) =>
        _transientFailures.Add(1, Destination(record), Group(consumerGroup));

    public void RecordParked(InboxRecord record, string consumerGroup, string state) =>
        _parked.Add(1, Destination(record), Group(consumerGroup), new KeyValuePair<string, object?>("outbox.inbox.park.state", state));

    public void DeadLetterFellBack(InboxRecord record, string consumerGroup) =>
        _deadLetterFallbacks.Add(1, Destination(record), Group(consumerGroup));

    public void RecordReplayed(InboxRecord record, string consumerGroup) =>
        _replayed.Add(1, Destination(record), Group(consumerGroup));

    private IEnumerable<Measurement<int>> ParkedKeyMeasurements() =>
        GroupsOfAllSources().Select(g => new Measurement<int>(g.Value.Keys, Group(g.Key)));

    private IEnumerable<Measurement<double>> OldestParkedAgeMeasurements() =>
        GroupsOfAllSources().Select(g => new Measurement<double>(g.Value.OldestAge.TotalSeconds, Group(g.Key)));

    private Dictionary<string, (int Keys, TimeSpan OldestAge)> GroupsOfAllSources()
    {
        var groups = new Dictionary<string, (int Keys, TimeSpan OldestAge)>(StringComparer.Ordinal);
        foreach (var source in _sources.Keys)
        {
            foreach (var group in source.Snapshot())
            {
                var (keys, oldest) = groups.GetValueOrDefault(group.ConsumerGroup);
                var age = group.OldestParkedAge ?? TimeSpan.Zero;
                groups[group.ConsumerGroup] = (keys + group.ParkedKeys, age > oldest ? age : oldest);
            }
        }

        return groups;
    }

    public static Activity? StartProcess(InboxRecord record, string consumerGroup, int attempt)
    {
        if (!OutboxTelemetry.InboxSource.HasListeners())
        {
            return null;
        }

        var parent = OutboxTelemetry.ParseTraceParent(Header(record, "traceparent"), Header(record, "tracestate"));
        var tags = new TagList
        {
            { MessagingAttributes.System, MessagingAttributes.Kafka },
            { MessagingAttributes.OperationType, "process" },
            { MessagingAttributes.OperationName, "process" },
            { MessagingAttributes.DestinationName, record.Topic },
            { MessagingAttributes.ConsumerGroup, consumerGroup },
            { MessagingAttributes.MessageId, record.Id },
            { MessagingAttributes.KafkaPartition, record.Partition.ToString(CultureInfo.InvariantCulture) },
            { MessagingAttributes.KafkaOffset, record.Offset },
            { MessagingAttributes.EventType, record.Type },
            { "outbox.attempt", attempt },
        };
        if (record.Key is { } key)
        {
            tags.Add(MessagingAttributes.KafkaMessageKey, Encoding.UTF8.GetString(key));
        }

        // No traceparent: the span starts a trace of its own rather than joining whatever is current on this thread.
        return parent == default
            ? OutboxTelemetry.StartRoot(OutboxTelemetry.InboxSource, "process " + record.Topic, ActivityKind.Consumer, tags, null)
            : OutboxTelemetry.InboxSource.StartActivity(ActivityKind.Consumer, parent, tags, null, default, "process " + record.Topic);
    }

    public static void HandlerFailed(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag(MessagingAttributes.ErrorType, exception.GetType().FullName);
        }
    }

    public void HandlerDone(InboxRecord record, string consumerGroup, TimeSpan elapsed) =>
        _handlerDuration.Record(elapsed.TotalSeconds, Destination(record), Group(consumerGroup));

    public void Committed(InboxItem[] segment, IReadOnlySet<string> fresh, int duplicates, string consumerGroup)
    {
        var record = segment[0].Record;
        if (fresh.Count > 0)
        {
            _handled.Add(fresh.Count, Destination(record), Group(consumerGroup));
        }

        if (duplicates > 0)
        {
            _duplicates.Add(duplicates, Destination(record), Group(consumerGroup));
        }
    }

    public void DeadLettered(InboxRecord record, string consumerGroup, string reason) =>
        _deadLettered.Add(1, Destination(record), Group(consumerGroup), new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, reason));

    private static KeyValuePair<string, object?> Destination(InboxRecord record) => new(MessagingAttributes.DestinationName, record.Topic);

    private static KeyValuePair<string, object?> Group(string consumerGroup) => new(MessagingAttributes.ConsumerGroup, consumerGroup);

    private static string? Header(InboxRecord record, string name)
    {
        for (var i = record.Headers.Count - 1; i >= 0; i--)
        {
            var header = record.Headers[i];
            if (string.Equals(header.Key, name, StringComparison.Ordinal) && header.Value is { } value)
            {
                return Encoding.UTF8.GetString(value);
            }
        }

        return null;
    }
}
