using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Outbox.Relay;

/// <summary>The polling relay's instruments: counts per destination, batch duration, lanes owned per running instance.</summary>
internal static class RelayTelemetry
{
    private static readonly ConcurrentDictionary<PollingRelay, byte> s_running = new();
    private static readonly ConcurrentDictionary<(string Template, string Type), string> s_topics = new();

    static RelayTelemetry()
    {
        OutboxTelemetry.RelayMeter.CreateObservableGauge(
            "outbox.relay.lanes.owned",
            ObserveLanes,
            "{lane}",
            "Lanes whose lease this polling relay instance holds.");
    }

    public static void Running(PollingRelay relay) => s_running[relay] = 0;

    public static void Stopped(PollingRelay relay) => s_running.TryRemove(relay, out _);

    public static void Batch(IReadOnlyList<OutboxMessage> messages, int acknowledged, bool failed, bool deadLettered, OutboxOptions options, TimeSpan elapsed)
    {
        var polling = new KeyValuePair<string, object?>(MessagingAttributes.Relay, "polling");
        OutboxTelemetry.BatchDuration.Record(elapsed.TotalSeconds, polling);
        if (OutboxTelemetry.Published.Enabled)
        {
            // Rows of a lane usually share a few aggregate types: count runs of the same topic.
            var i = 0;
            while (i < acknowledged)
            {
                var type = messages[i].AggregateType;
                var start = i;
                while (i < acknowledged && string.Equals(messages[i].AggregateType, type, StringComparison.Ordinal))
                {
                    i++;
                }

                OutboxTelemetry.Published.Add(i - start, polling, Destination(options, type));
            }
        }

        if (failed && acknowledged < messages.Count)
        {
            var head = Destination(options, messages[acknowledged].AggregateType);
            OutboxTelemetry.Failed.Add(1, polling, head);
            if (deadLettered)
            {
                OutboxTelemetry.RelayDeadLettered.Add(1, polling, head);
            }
        }
    }

    private static KeyValuePair<string, object?> Destination(OutboxOptions options, string aggregateType) =>
        new(MessagingAttributes.DestinationName, s_topics.GetOrAdd((options.TopicTemplate, aggregateType), static (k, o) => o.GetTopic(k.Type), options));

    private static IEnumerable<Measurement<int>> ObserveLanes()
    {
        foreach (var relay in s_running.Keys)
        {
            yield return new Measurement<int>(relay.Scheduler.Count, new KeyValuePair<string, object?>(MessagingAttributes.RelayInstance, relay.InstanceId));
        }
    }
}
