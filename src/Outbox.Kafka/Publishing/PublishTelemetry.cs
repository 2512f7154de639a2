using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Confluent.Kafka;
using Outbox.Providers;

namespace Outbox.Kafka.Publishing;

/// <summary>
/// The <c>send</c> span of one record: a new root (the relay's work is not part of the request that wrote the row),
/// linked to the trace stored with the row, ended by the delivery report with the partition and offset; and the
/// <c>messaging.client.sent.messages</c> counter, on the container's <c>Outbox.Relay</c> meter.
/// </summary>
internal sealed class PublishTelemetry
{
    private readonly Counter<long> _sent;

    public PublishTelemetry(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _sent = meterFactory.Create(OutboxDiagnostics.RelaySourceName).CreateCounter<long>(
            "messaging.client.sent.messages", "{message}", "Records handed to the broker and acknowledged (error.type set when the broker refused them).");
    }

    public static Activity? StartSend(string topic, OutboxRecord message)
    {
        if (!OutboxTelemetry.RelaySource.HasListeners())
        {
            return null;
        }

        var stored = OutboxTelemetry.ParseTraceParent(message.TraceParent, message.TraceState);
        ActivityLink[]? links = stored == default ? null : [new ActivityLink(stored)];
        var tags = new TagList
        {
            { MessagingAttributes.System, MessagingAttributes.Kafka },
            { MessagingAttributes.OperationType, "send" },
            { MessagingAttributes.OperationName, "send" },
            { MessagingAttributes.DestinationName, topic },
            { MessagingAttributes.MessageId, message.Id.ToString("D", CultureInfo.InvariantCulture) },
            { MessagingAttributes.KafkaMessageKey, message.AggregateId },
            { MessagingAttributes.EventType, message.Type },
            { MessagingAttributes.Lane, message.Lane },
        };
        return OutboxTelemetry.StartRoot(OutboxTelemetry.RelaySource, "send " + topic, ActivityKind.Producer, tags, links);
    }

    public Action<DeliveryReport<byte[], byte[]>> Wrap(Activity? activity, string topic, Action<DeliveryReport<byte[], byte[]>> handler)
    {
        if (activity is null && !_sent.Enabled)
        {
            return handler;
        }

        return report =>
        {
            Delivered(activity, topic, report);
            handler(report);
        };
    }

    public void Failed(Activity? activity, string topic, string error)
    {
        _sent.Add(1, new(MessagingAttributes.System, MessagingAttributes.Kafka), new(MessagingAttributes.DestinationName, topic), new(MessagingAttributes.ErrorType, "refused"));
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error);
            activity.SetTag(MessagingAttributes.ErrorType, "refused");
            activity.Stop();
        }
    }

    private void Delivered(Activity? activity, string topic, DeliveryReport<byte[], byte[]> report)
    {
        var error = report.Error is { IsError: true } e ? e : null;
        var errorType = error is null ? null : error.Code.ToString();
        _sent.Add(1, new(MessagingAttributes.System, MessagingAttributes.Kafka), new(MessagingAttributes.DestinationName, topic), new(MessagingAttributes.ErrorType, errorType));
        if (activity is null)
        {
            return;
        }

        if (error is null)
        {
            activity.SetTag(MessagingAttributes.KafkaPartition, report.Partition.Value.ToString(CultureInfo.InvariantCulture));
            activity.SetTag(MessagingAttributes.KafkaOffset, report.Offset.Value);
        }
        else
        {
            activity.SetStatus(ActivityStatusCode.Error, DeliveryBatch.Describe(error));
            activity.SetTag(MessagingAttributes.ErrorType, errorType);
        }

        activity.Stop();
    }
}
