using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>Which relay a measurement comes from (the <c>outbox.relay.type</c> tag).</summary>
internal enum RelayKind
{
    Polling,
    Cdc,
}

/// <summary>The relays' instruments (both relays record the same ones): counts per destination, failures, parked keys,
/// batch duration, lanes owned per running polling instance.</summary>
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

    public static void BatchDuration(RelayKind relay, TimeSpan elapsed) =>
        OutboxTelemetry.BatchDuration.Record(elapsed.TotalSeconds, Tag(relay));

    /// <summary>Counts a settled batch: the rows done per destination, the failures by kind, the keys parked.</summary>
    public static void Settled(
        RelayKind relay, IReadOnlyList<OutboxRecord> messages, BatchSettlement settlement, IReadOnlyList<KeyFailureOutcome> outcomes, OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(settlement);
        ArgumentNullException.ThrowIfNull(outcomes);
        var tag = Tag(relay);
        if (OutboxTelemetry.Published.Enabled)
        {
            // Rows of a batch usually share a few aggregate types: count runs of the same topic.
            var done = settlement.Done;
            var i = 0;
            while (i < done.Count)
            {
                var type = messages[done[i]].AggregateType;
                var start = i;
                while (i < done.Count && string.Equals(messages[done[i]].AggregateType, type, StringComparison.Ordinal))
                {
                    i++;
                }

                OutboxTelemetry.Published.Add(i - start, tag, Destination(options, type));
            }
        }

        if (settlement.TransientRows > 0)
        {
            OutboxTelemetry.Failed.Add(settlement.TransientRows, tag, new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, "transient"));
        }

        for (var i = 0; i < settlement.Failures.Count; i++)
        {
            var failure = settlement.Failures[i];
            var destination = Destination(options, failure.Message.AggregateType);
            OutboxTelemetry.Failed.Add(1, tag, destination, new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, failure.Permanent ? "permanent" : "record"));
            if (i < outcomes.Count && outcomes[i].Parked)
            {
                OutboxTelemetry.RelayParked.Add(1, tag, destination);
            }
        }
    }

    private static KeyValuePair<string, object?> Tag(RelayKind relay) =>
        new(MessagingAttributes.Relay, relay == RelayKind.Polling ? "polling" : "cdc");

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
