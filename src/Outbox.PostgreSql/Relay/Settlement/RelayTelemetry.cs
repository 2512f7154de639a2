using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>
/// The relays' instruments (both relays record the same ones), on the container's <c>Outbox.Relay</c> meter: counts
/// per destination, failures, parked keys, batch duration, lanes owned per running polling instance.
/// </summary>
internal sealed class RelayTelemetry
{
    private readonly ConcurrentDictionary<PollingRelay, byte> _running = new();
    private readonly ConcurrentDictionary<(string Template, string Type), string> _topics = new();
    private readonly Counter<long> _published;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _parked;
    private readonly Histogram<double> _batchDuration;

    public RelayTelemetry(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(OutboxDiagnostics.RelaySourceName);
        _published = meter.CreateCounter<long>(
            "outbox.relay.published", "{message}", "Outbox rows acknowledged by the broker and removed (or marked published) by the relay.");
        _failed = meter.CreateCounter<long>(
            "outbox.relay.failed", "{message}",
            "Failed publish attempts of a row; error.type is transient (the broker or the network: retried, not counted against the row), record or permanent.");
        _parked = meter.CreateCounter<long>(
            "outbox.relay.parked", "{key}", "Keys parked by the relay: an event failed for good, and it and every later event of its key wait for an operator.");
        _batchDuration = meter.CreateHistogram(
            "outbox.relay.batch.duration", "s", "Time to publish and settle one batch (polling: claim, publish and complete one batch of one lane).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        meter.CreateObservableGauge("outbox.relay.lanes.owned", ObserveLanes, "{lane}", "Lanes whose lease this polling relay instance holds.");
    }

    public void Running(PollingRelay relay) => _running[relay] = 0;

    public void Stopped(PollingRelay relay) => _running.TryRemove(relay, out _);

    public void BatchDuration(RelayKind relay, TimeSpan elapsed) => _batchDuration.Record(elapsed.TotalSeconds, Tag(relay));

    /// <summary>Counts a settled batch: the rows done per destination, the failures by kind, the keys parked.</summary>
    public void Settled(
        RelayKind relay, IReadOnlyList<OutboxRecord> messages, BatchSettlement settlement, IReadOnlyList<KeyFailureOutcome> outcomes, OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(settlement);
        ArgumentNullException.ThrowIfNull(outcomes);
        var tag = Tag(relay);
        if (_published.Enabled)
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

                _published.Add(i - start, tag, Destination(options, type));
            }
        }

        if (settlement.TransientRows > 0)
        {
            _failed.Add(settlement.TransientRows, tag, new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, "transient"));
        }

        for (var i = 0; i < settlement.Failures.Count; i++)
        {
            var failure = settlement.Failures[i];
            var destination = Destination(options, failure.Message.AggregateType);
            _failed.Add(1, tag, destination, new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, failure.Permanent ? "permanent" : "record"));
            if (i < outcomes.Count && outcomes[i].Parked)
            {
                _parked.Add(1, tag, destination);
            }
        }
    }

    private static KeyValuePair<string, object?> Tag(RelayKind relay) =>
        new(MessagingAttributes.Relay, relay == RelayKind.Polling ? "polling" : "cdc");

    private KeyValuePair<string, object?> Destination(OutboxOptions options, string aggregateType) =>
        new(MessagingAttributes.DestinationName, _topics.GetOrAdd((options.TopicTemplate, aggregateType), static (k, o) => o.GetTopic(k.Type), options));

    private IEnumerable<Measurement<int>> ObserveLanes()
    {
        foreach (var relay in _running.Keys)
        {
            yield return new Measurement<int>(relay.Scheduler.Count, new KeyValuePair<string, object?>(MessagingAttributes.RelayInstance, relay.InstanceId));
        }
    }
}
