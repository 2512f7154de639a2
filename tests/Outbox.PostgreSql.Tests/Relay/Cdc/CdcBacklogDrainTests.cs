using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Outbox.PostgreSql.Cdc;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

/// <summary>
/// The CDC relay's backlog (rows committed before its slot existed) with a fake store, a fake parking store and a fake
/// publisher: published in commit order in batches, the rows of a held or failing key moved to the outbox table in their
/// order, a transport failure not counted against anyone. The integration tests drain real backlogs; these run in
/// milliseconds.
/// </summary>
public sealed class CdcBacklogDrainTests : IDisposable
{
    private readonly FakeBacklog _store = new();
    private readonly FakeFailures _failures;
    private readonly FakePublisher _publisher = new();
    private readonly CdcAcknowledger _acknowledger = new();
    private readonly TestMeterFactory _meters = new();
    private readonly CdcRelayOptions _options = new()
    {
        MaxBatchSize = 2,
        MaxAttempts = 3,
        InitialRetryDelay = TimeSpan.FromSeconds(1),
        MaxRetryDelay = TimeSpan.FromSeconds(10),
    };

    public CdcBacklogDrainTests() => _failures = new FakeFailures(_store);

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task The_backlog_is_published_in_commit_order_in_batches_and_deleted_as_it_is_acknowledged()
    {
        var rows = Rows("a", "b", "a", "c", "b");
        _store.Backlog.AddRange(rows);

        var published = await CreateDrain().DrainAsync("slot", CancellationToken.None);

        Assert.Equal(5, published);
        Assert.Equal(rows.Select(r => r.Id), _publisher.Published.Select(r => r.Id));
        Assert.Equal([2, 2, 1], _publisher.BatchSizes);
        Assert.Empty(_store.Backlog);
        Assert.Empty(_store.Moved);
        Assert.Equal(5, _acknowledger.Published);
    }

    [Fact]
    public async Task An_empty_backlog_publishes_nothing()
    {
        Assert.Equal(0, await CreateDrain().DrainAsync("slot", CancellationToken.None));
        Assert.Empty(_publisher.BatchSizes);
    }

    [Fact]
    public async Task The_rows_of_a_held_key_are_not_sent_and_move_to_the_outbox_table_in_their_order_while_a_released_key_is_sent()
    {
        var rows = Rows("held", "b", "held", "released");
        _store.Backlog.AddRange(rows);
        _store.States[("order", "held")] = null;
        _store.States[("order", "released")] = 1234UL;

        var published = await CreateDrain().DrainAsync("slot", CancellationToken.None);

        Assert.Equal(2, published);
        Assert.Equal([rows[1].Id, rows[3].Id], _publisher.Published.Select(r => r.Id));
        Assert.Equal([rows[0].Id, rows[2].Id], _store.Moved);
        Assert.Empty(_store.Backlog);
        Assert.Empty(_failures.Recorded);
    }

    [Fact]
    public async Task A_failing_record_is_recorded_once_for_its_key_and_its_key_waits_in_the_outbox_table_while_other_keys_go_on()
    {
        var rows = Rows("a", "bad", "bad", "c");
        _store.Backlog.AddRange(rows);
        _publisher.Result = r => r.Id == rows[1].Id ? PublishResult.Failed("record too large", PublishFailureKind.Permanent) : PublishResult.Acknowledged;

        var published = await CreateDrain().DrainAsync("slot", CancellationToken.None);

        Assert.Equal(2, published);
        var failure = Assert.Single(_failures.Recorded);
        Assert.Equal(rows[1].Id, failure.Failure.Message.Id);
        Assert.True(failure.Failure.Permanent);
        Assert.Equal(new KeyRetryPolicy(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)), failure.Policy);

        // The batch of two held "a" and the first "bad"; the next batch found "bad" held (the parking store says so now)
        // and moved its second row behind the first, without sending it.
        Assert.Equal([rows[1].Id, rows[2].Id], _store.Moved);
        Assert.DoesNotContain(_publisher.Published, r => r.Id == rows[2].Id);
        Assert.Contains(_publisher.Published, r => r.Id == rows[3].Id);
        Assert.Empty(_store.Backlog);
    }

    [Fact]
    public async Task A_transport_failure_is_not_counted_and_leaves_the_rows_it_did_not_deliver_in_the_backlog_to_be_read_again_first()
    {
        var rows = Rows("a", "b", "c");
        _store.Backlog.AddRange(rows);
        _publisher.Result = r => r.Id == rows[1].Id ? PublishResult.Failed("broker down", PublishFailureKind.Transient) : PublishResult.Acknowledged;

        var ex = await Assert.ThrowsAsync<CdcPublishFailedException>(() => CreateDrain().DrainAsync("slot", CancellationToken.None));

        Assert.Contains("broker down", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_failures.Recorded);
        Assert.Empty(_store.Moved);
        Assert.Equal([rows[1].Id, rows[2].Id], _store.Backlog.Select(r => r.Id));
        Assert.Equal(1, _acknowledger.Published);

        // The broker is back: the next iteration publishes the rest in order.
        _publisher.Result = _ => PublishResult.Acknowledged;
        Assert.Equal(2, await CreateDrain().DrainAsync("slot", CancellationToken.None));
        Assert.Equal([rows[0].Id, rows[1].Id, rows[1].Id, rows[2].Id], _publisher.Published.Select(r => r.Id));
        Assert.Empty(_store.Backlog);
    }

    private CdcBacklogDrain CreateDrain() =>
        new(_store, _failures, _publisher, _acknowledger, new OutboxOptions { TopicTemplate = "t.{aggregatetype}" }, _options,
            new FakeTimeProvider(), new RelayTelemetry(_meters), NullLogger.Instance);

    private static List<OutboxRecord> Rows(params string[] keys) => TestRecords.Rows(keys);

    private sealed class FakeBacklog : ICdcBacklogStore
    {
        public List<OutboxRecord> Backlog { get; } = [];

        public Dictionary<(string Type, string Id), ulong?> States { get; } = [];

        public List<Guid> Moved { get; } = [];

        public Task<List<OutboxRecord>> ReadBacklogAsync(int limit, CancellationToken cancellationToken) =>
            Task.FromResult(Backlog.Take(limit).ToList());

        public Task<Dictionary<(string Type, string Id), ulong?>> ReadKeyStatesAsync(IReadOnlyCollection<(string Type, string Id)> keys, CancellationToken cancellationToken) =>
            Task.FromResult(keys.Where(States.ContainsKey).ToDictionary(k => k, k => States[k]));

        public Task DeleteBacklogAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
        {
            Backlog.RemoveAll(r => ids.Contains(r.Id));
            return Task.CompletedTask;
        }

        public Task MoveBacklogToMessagesAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
        {
            Moved.AddRange(Backlog.Where(r => ids.Contains(r.Id)).Select(r => r.Id));
            Backlog.RemoveAll(r => ids.Contains(r.Id));
            return Task.CompletedTask;
        }
    }

    /// <summary>Records failures; the key is held from then on (as the parking store's rows make it for the next read).</summary>
    private sealed class FakeFailures(FakeBacklog store) : IKeyFailureStore
    {
        public List<(KeyFailure Failure, KeyRetryPolicy Policy)> Recorded { get; } = [];

        public Task<KeyFailureOutcome> FailAsync(KeyFailure failure, KeyRetryPolicy policy, CancellationToken cancellationToken)
        {
            Recorded.Add((failure, policy));
            store.States[(failure.Message.AggregateType, failure.Message.AggregateId)] = null;
            return Task.FromResult(new KeyFailureOutcome(1, failure.Permanent, failure.Permanent ? TimeSpan.Zero : policy.BaseDelay));
        }
    }

    private sealed class FakePublisher : IOutboxPublisher
    {
        public List<OutboxRecord> Published { get; } = [];

        public List<int> BatchSizes { get; } = [];

        public Func<OutboxRecord, PublishResult> Result { get; set; } = _ => PublishResult.Acknowledged;

        public ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
        {
            Published.AddRange(messages);
            BatchSizes.Add(messages.Count);
            return ValueTask.FromResult(messages.Select(Result).ToArray());
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
