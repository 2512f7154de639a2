using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>
/// The relays' instruments (both relays record the same ones), on the container's <c>Outbox.Relay</c> meter: counts
/// per destination, failures, parked keys, batch duration, lanes owned per running polling instance. In a relay fleet over
/// many databases (<c>UsePostgreSqlDatabases</c>) every measurement carries the database's name (<see cref="OutboxDatabase.Name"/>) as <c>outbox.database</c>.
/// </summary>
internal sealed class RelayTelemetry
{
    private readonly ConcurrentDictionary<PollingRelay, byte> _running = new();
    private readonly ConcurrentDictionary<(string Template, string Type), string> _topics = new();
    private readonly Counter<long> _published;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _parked;
    private readonly Histogram<double> _batchDuration;
    private readonly string? _database;

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

    /// <summary>The same instruments, for the relay of one database of a fleet: its measurements carry the database's name.</summary>
    private RelayTelemetry(RelayTelemetry parent, string database)
    {
        _running = parent._running;
        _topics = parent._topics;
        _published = parent._published;
        _failed = parent._failed;
        _parked = parent._parked;
        _batchDuration = parent._batchDuration;
        _database = database;
    }

    /// <summary>Returns the telemetry of the relay of one database of a fleet (<c>UsePostgreSqlDatabases</c>): the same
    /// instruments, every measurement tagged with <paramref name="database"/> as <c>outbox.database</c>.</summary>
    public RelayTelemetry ForDatabase(string database) => new(this, database);

    public void Running(PollingRelay relay) => _running[relay] = 0;

    public void Stopped(PollingRelay relay) => _running.TryRemove(relay, out _);

    /// <param name="relay">The relay that settled the batch.</param>
    /// <param name="elapsed">The batch's duration.</param>
    /// <param name="database">The database's name in a relay fleet over many databases (<c>UsePostgreSqlDatabases</c>): the
    /// <c>outbox.database</c> tag; <see langword="null"/> for the one database of <c>UsePostgreSql</c> (no tag).</param>
    public void BatchDuration(RelayKind relay, TimeSpan elapsed, string? database = null)
    {
        database ??= _database;
        if (database is null)
        {
            _batchDuration.Record(elapsed.TotalSeconds, Tag(relay));
        }
        else
        {
            _batchDuration.Record(elapsed.TotalSeconds, Tag(relay), Database(database));
        }
    }

    /// <summary>Counts a settled batch: the rows done per destination, the failures by kind, the keys parked.</summary>
    public void Settled(
        RelayKind relay, IReadOnlyList<OutboxRecord> messages, BatchSettlement settlement, IReadOnlyList<KeyFailureOutcome> outcomes, OutboxOptions options,
        string? database = null)
    {
        database ??= _database;
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

                if (database is null)
                {
                    _published.Add(i - start, tag, Destination(options, type));
                }
                else
                {
                    _published.Add(i - start, tag, Destination(options, type), Database(database));
                }
            }
        }

        if (settlement.TransientRows > 0)
        {
            var transient = new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, "transient");
            if (database is null)
            {
                _failed.Add(settlement.TransientRows, tag, transient);
            }
            else
            {
                _failed.Add(settlement.TransientRows, tag, transient, Database(database));
            }
        }

        for (var i = 0; i < settlement.Failures.Count; i++)
        {
            var failure = settlement.Failures[i];
            var destination = Destination(options, failure.Message.AggregateType);
            var errorType = new KeyValuePair<string, object?>(MessagingAttributes.ErrorType, failure.Permanent ? "permanent" : "record");
            var parked = i < outcomes.Count && outcomes[i].Parked;
            if (database is null)
            {
                _failed.Add(1, tag, destination, errorType);
                if (parked)
                {
                    _parked.Add(1, tag, destination);
                }
            }
            else
            {
                _failed.Add(1, tag, destination, errorType, Database(database));
                if (parked)
                {
                    _parked.Add(1, tag, destination, Database(database));
                }
            }
        }
    }

    private static KeyValuePair<string, object?> Tag(RelayKind relay) =>
        new(MessagingAttributes.Relay, relay == RelayKind.Polling ? "polling" : "cdc");

    private static KeyValuePair<string, object?> Database(string database) => new(MessagingAttributes.OutboxDatabase, database);

    private KeyValuePair<string, object?> Destination(OutboxOptions options, string aggregateType) =>
        new(MessagingAttributes.DestinationName, _topics.GetOrAdd((options.TopicTemplate, aggregateType), static (k, o) => o.GetTopic(k.Type), options));

    private IEnumerable<Measurement<int>> ObserveLanes()
    {
        foreach (var relay in _running.Keys)
        {
            var instance = new KeyValuePair<string, object?>(MessagingAttributes.RelayInstance, relay.InstanceId);
            yield return relay.Database is { } database
                ? new Measurement<int>(relay.Scheduler.Count, instance, Database(database))
                : new Measurement<int>(relay.Scheduler.Count, instance);
        }
    }
}
