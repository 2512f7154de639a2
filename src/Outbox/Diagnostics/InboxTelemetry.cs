using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Outbox.Inbox;

/// <summary>The inbox's <c>process</c> span (a child of the record's <c>traceparent</c>) and its instruments.</summary>
internal static class InboxTelemetry
{
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
