using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>The inbox's <c>process</c> span (a child of the record's <c>traceparent</c>) and its instruments.</summary>
internal static class InboxTelemetry
{
    // The progress of every running consumer host of this process: the gauges read their parked keys.
    private static readonly ConcurrentDictionary<InboxProgress, byte> Sources = new();

    public static readonly Counter<long> Parked = OutboxTelemetry.InboxMeter.CreateCounter<long>(
        "outbox.inbox.parked", "{message}", "Records stored in the parked table: failed for good (outbox.inbox.park.state=parked), held behind a parked key (held), or kept because the dead-letter topic refused them (dead_letter).");

    public static readonly Counter<long> DeadLetterFallbacks = OutboxTelemetry.InboxMeter.CreateCounter<long>(
        "outbox.inbox.dead_letter_fallbacks", "{message}", "Dead letters the dead-letter topic refused; each was stored in the parked table instead.");

    public static readonly Counter<long> TransientFailures = OutboxTelemetry.InboxMeter.CreateCounter<long>(
        "outbox.inbox.transient_failures", "{failure}", "Inbox transactions that failed for a transient reason (connection loss, serialization failure, deadlock) and are retried without counting an attempt.");

    public static readonly Counter<long> Replayed = OutboxTelemetry.InboxMeter.CreateCounter<long>(
        "outbox.inbox.replayed", "{message}", "Parked and held records an operator's replay took out of the parked table (handled, duplicates, or sent to the dead-letter topic).");

    public static readonly ObservableGauge<int> ParkedKeys = OutboxTelemetry.InboxMeter.CreateObservableGauge(
        "outbox.inbox.parked_keys", ParkedKeyMeasurements, "{key}", "Parked keys in the partitions this process owns, per consumer group.");

    public static readonly ObservableGauge<double> OldestParkedAge = OutboxTelemetry.InboxMeter.CreateObservableGauge(
        "outbox.inbox.parked_keys.oldest_age", OldestParkedAgeMeasurements, "s", "Age of the oldest parked key in the partitions this process owns, per consumer group (0 when none).");

    public static void AddSource(InboxProgress progress) => Sources.TryAdd(progress, 0);

    public static void RemoveSource(InboxProgress progress) => Sources.TryRemove(progress, out _);

    public static void TransientFailure(InboxRecord record, string consumerGroup) =>
        TransientFailures.Add(1, Destination(record), Group(consumerGroup));

    public static void RecordParked(InboxRecord record, string consumerGroup, string state) =>
        Parked.Add(1, Destination(record), Group(consumerGroup), new KeyValuePair<string, object?>("outbox.inbox.park.state", state));

    public static void DeadLetterFellBack(InboxRecord record, string consumerGroup) =>
        DeadLetterFallbacks.Add(1, Destination(record), Group(consumerGroup));

    public static void RecordReplayed(InboxRecord record, string consumerGroup) =>
        Replayed.Add(1, Destination(record), Group(consumerGroup));

    private static IEnumerable<Measurement<int>> ParkedKeyMeasurements() =>
        GroupsOfAllSources().Select(g => new Measurement<int>(g.Value.Keys, Group(g.Key)));

    private static IEnumerable<Measurement<double>> OldestParkedAgeMeasurements() =>
        GroupsOfAllSources().Select(g => new Measurement<double>(g.Value.OldestAge.TotalSeconds, Group(g.Key)));

    private static Dictionary<string, (int Keys, TimeSpan OldestAge)> GroupsOfAllSources()
    {
        var groups = new Dictionary<string, (int Keys, TimeSpan OldestAge)>(StringComparer.Ordinal);
        foreach (var source in Sources.Keys)
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

    public static void HandlerDone(InboxRecord record, string consumerGroup, TimeSpan elapsed) =>
        OutboxTelemetry.HandlerDuration.Record(elapsed.TotalSeconds, Destination(record), Group(consumerGroup));

    public static void Committed(InboxItem[] segment, IReadOnlySet<string> fresh, int duplicates, string consumerGroup)
    {
        var record = segment[0].Record;
        if (fresh.Count > 0)
        {
            OutboxTelemetry.Handled.Add(fresh.Count, Destination(record), Group(consumerGroup));
        }

        if (duplicates > 0)
        {
            OutboxTelemetry.Duplicates.Add(duplicates, Destination(record), Group(consumerGroup));
        }
    }

    public static void DeadLettered(InboxRecord record, string consumerGroup, string reason) =>
        OutboxTelemetry.InboxDeadLettered.Add(1, Destination(record), Group(consumerGroup), new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, reason));

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
