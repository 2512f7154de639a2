using System.Diagnostics.Metrics;

namespace Outbox.PostgreSql;

/// <summary>
/// The backlog gauges on the container's <c>Outbox</c> meter, one measurement per database: the one of
/// <c>UsePostgreSql</c>, or each of <c>UsePostgreSqlDatabases</c> (with its name as <c>outbox.database</c>). Each
/// database's reading comes from its <see cref="BacklogSampler"/>'s cache: a scrape never waits on a database.
/// </summary>
internal sealed class BacklogGauges
{
    private readonly Func<IEnumerable<(BacklogSampler Sampler, string? Name)>> _databases;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;

    public BacklogGauges(IMeterFactory meterFactory, Func<IEnumerable<(BacklogSampler Sampler, string? Name)>> databases, OutboxOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _databases = databases;
        _options = options;
        _timeProvider = timeProvider;
        var meter = meterFactory.Create(OutboxDiagnostics.EnqueueSourceName);
        meter.CreateObservableGauge("outbox.messages.pending", () => Observe(s => s.Pending), "{message}",
            "Outbox rows not yet published: exact up to 10,000, the planner's live-row estimate above.");
        meter.CreateObservableGauge("outbox.messages.oldest_pending.age", () => Observe(s => s.OldestAge(_timeProvider.GetUtcNow()).TotalSeconds), "s",
            "Age of the oldest pending outbox row (the oldest lane head, events of held keys left out); 0 when none is pending.");
        meter.CreateObservableGauge("outbox.relay.parked_keys", () => Observe(s => s.ParkedKeys), "{key}",
            "Keys a relay parked: an event failed for good, and it and every later event of its key wait for an operator (dotnet outbox parked).");
        meter.CreateObservableGauge("outbox.relay.parked_keys.oldest_age", () => Observe(s => s.OldestParkedAge(_timeProvider.GetUtcNow()).TotalSeconds), "s",
            "How long the longest-held key has been held (parked or retrying); 0 when none is.");
    }

    private IEnumerable<Measurement<T>> Observe<T>(Func<BacklogSnapshot, T> value)
        where T : struct
    {
        foreach (var (sampler, name) in _databases())
        {
            if (sampler.Current() is { } snapshot)
            {
                yield return new Measurement<T>(value(snapshot), Tags(snapshot, name));
            }
        }
    }

    private KeyValuePair<string, object?>[] Tags(BacklogSnapshot snapshot, string? name) => name is null
        ?
        [
            new(MessagingAttributes.DbNamespace, snapshot.Database),
            new("outbox.table", _options.Schema + "." + _options.MessagesTable),
        ]
        :
        [
            new(MessagingAttributes.DbNamespace, snapshot.Database),
            new("outbox.table", _options.Schema + "." + _options.MessagesTable),
            new(MessagingAttributes.OutboxDatabase, name),
        ];
}
