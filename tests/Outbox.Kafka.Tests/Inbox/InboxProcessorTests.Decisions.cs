using System.Collections.Concurrent;
using System.Text;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Inbox;

/// <summary>
/// The inbox pipeline's decisions with a fake store, a fake dead-letter publisher, an in-memory DbContext (what commits
/// is what SaveChanges saved) and <see cref="FakeTimeProvider"/>: dedup, attempts and parking, permanent and transient
/// failures, held keys, a failed batch split up. tests/Outbox.IntegrationTests/Inbox checks the same on PostgreSQL and
/// Kafka; these run in milliseconds.
/// </summary>
public sealed partial class InboxProcessorTests : IAsyncDisposable
{
    private const string Topic = "t.movie";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly Script _script;
    private readonly FakeInboxStore _store = new();
    private readonly FakeDeadLetters _deadLetters = new();
    private readonly TestMeterFactory _meters = new();
    private readonly ServiceProvider _services;
    private readonly List<long> _completed = [];

    public InboxProcessorTests()
    {
        _script = new Script(_time);
        var database = "inbox-" + Guid.NewGuid().ToString("N");
        var services = new ServiceCollection();
        services.AddDbContext<TestDb>(o => o
            .UseInMemoryDatabase(database)
            .ConfigureWarnings(w => w.Ignore(InMemoryEventId.TransactionIgnoredWarning)));
        services.AddSingleton(_script);
        services.AddScoped<TestHandler>();
        _services = services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        _meters.Dispose();
    }

    [Fact]
    public async Task A_record_is_handled_once_and_a_redelivery_of_its_id_is_skipped_as_a_duplicate()
    {
        var processor = CreateProcessor();

        Assert.True(await processor.ProcessAsync([Item(0, "e1", "u1")], _completed.Add, default, default));
        Assert.True(await processor.ProcessAsync([Item(1, "e1", "u1")], _completed.Add, default, default));

        Assert.Equal(["e1"], await EffectsAsync());
        Assert.Equal([1L, 2L], _completed);
        Assert.Equal(1, _script.Calls("e1"));
    }

    [Fact]
    public async Task The_same_id_twice_in_one_batch_is_handled_once()
    {
        var processor = CreateProcessor();

        Assert.True(await processor.ProcessAsync([Item(0, "e1", "u1", batching: true), Item(1, "e1", "u1", batching: true), Item(2, "e2", "u2", batching: true)], _completed.Add, default, default));

        Assert.Equal(["e1", "e2"], await EffectsAsync());
        Assert.Equal([3L], _completed);
    }

    [Fact]
    public async Task A_handler_that_keeps_failing_is_retried_with_growing_waits_then_dead_lettered_and_its_key_parked()
    {
        var processor = CreateProcessor(maxAttempts: 3, initialRetryDelay: TimeSpan.FromSeconds(1));
        _script.Fail("e1", _ => new InvalidOperationException("handler bug"));
        var parking = new PartitionParking([]);

        var run = processor.ProcessAsync([Item(0, "e1", "u1")], parking, _completed.Add, default, default);
        await AdvanceUntilAsync(run);

        Assert.True(await run);
        Assert.Equal([1, 2, 3], _script.Attempts("e1"));
        var at = _script.Times("e1");
        Assert.True(at[1] - at[0] >= TimeSpan.FromSeconds(1), $"first wait {at[1] - at[0]}");
        Assert.True(at[2] - at[1] >= TimeSpan.FromSeconds(2), $"second wait {at[2] - at[1]}");
        var deadLetter = Assert.Single(_deadLetters.Sent);
        Assert.Equal(DeadLetterReason.HandlerFailed, deadLetter.Reason);
        Assert.Equal(3, deadLetter.Attempts);
        var parked = Assert.Single(_store.Parked);
        Assert.Equal(ParkedState.Parked, parked.State);
        Assert.True(parking.IsParked(Key("u1")));
        Assert.Empty(await EffectsAsync());
        Assert.Equal([1L], _completed);
    }

    [Fact]
    public async Task A_record_the_database_refuses_is_parked_at_the_first_attempt()
    {
        var processor = CreateProcessor(maxAttempts: 5);
        _script.Fail("e1", _ => new FakeDbException(transient: false, "23505"));
        var parking = new PartitionParking([]);

        Assert.True(await processor.ProcessAsync([Item(0, "e1", "u1")], parking, _completed.Add, default, default));

        Assert.Equal([1], _script.Attempts("e1"));
        Assert.Equal(ParkReason.Rejected, Assert.Single(_deadLetters.Sent).Reason);
        Assert.True(parking.IsParked(Key("u1")));
    }

    [Fact]
    public async Task Transient_failures_are_retried_without_counting_an_attempt()
    {
        var processor = CreateProcessor(maxAttempts: 2, initialRetryDelay: TimeSpan.FromMilliseconds(200));
        _script.Fail("e1", call => call <= 3 ? new FakeDbException(transient: true) : null);

        var run = processor.ProcessAsync([Item(0, "e1", "u1")], _completed.Add, default, default);
        await AdvanceUntilAsync(run);

        Assert.True(await run);
        Assert.Equal([1, 1, 1, 1], _script.Attempts("e1"));
        Assert.Equal(["e1"], await EffectsAsync());
        Assert.Empty(_deadLetters.Sent);
        Assert.Empty(_store.Parked);
    }

    [Fact]
    public async Task Later_records_of_a_parked_key_are_held_behind_it_while_other_keys_go_on()
    {
        var processor = CreateProcessor();
        var parking = new PartitionParking([]);
        parking.Park(Key("u1"), _time.GetUtcNow());

        Assert.True(await processor.ProcessAsync([Item(0, "e1", "u1"), Item(1, "e2", "u2")], parking, _completed.Add, default, default));

        Assert.Equal(0, _script.Calls("e1"));
        var held = Assert.Single(_store.Parked);
        Assert.Equal(ParkedState.Held, held.State);
        Assert.Equal(0, held.Record.Offset);
        Assert.Equal(["e2"], await EffectsAsync());
        Assert.Equal([1L, 2L], _completed);
    }

    [Fact]
    public async Task A_failed_batch_is_split_into_single_records_and_only_the_failing_one_is_parked()
    {
        var processor = CreateProcessor(maxAttempts: 1);
        _script.Fail("e2", _ => new InvalidOperationException("handler bug"));
        var parking = new PartitionParking([]);

        Assert.True(await processor.ProcessAsync(
            [Item(0, "e1", "u1", batching: true), Item(1, "e2", "u2", batching: true), Item(2, "e3", "u3", batching: true)], parking, _completed.Add, default, default));

        Assert.Equal(["e1", "e3"], await EffectsAsync());
        Assert.Equal(1, Assert.Single(_store.Parked).Record.Offset);
        Assert.True(parking.IsParked(Key("u2")));
        Assert.Equal([1L, 2L, 3L], _completed);
    }

    [Fact]
    public async Task A_stop_during_a_backoff_ends_the_run_without_completing_the_record()
    {
        var processor = CreateProcessor(maxAttempts: 5, initialRetryDelay: TimeSpan.FromMinutes(1));
        _script.Fail("e1", _ => new InvalidOperationException("handler bug"));
        using var stopping = new CancellationTokenSource();

        var run = processor.ProcessAsync([Item(0, "e1", "u1")], _completed.Add, stopping.Token, default);
        await Eventually.TrueAsync(() => _script.Calls("e1") == 1, "the first attempt ran");
        await stopping.CancelAsync();

        Assert.False(await run);
        Assert.Empty(_completed);
        Assert.Empty(_deadLetters.Sent);
    }

    private InboxProcessor CreateProcessor(int maxAttempts = 5, TimeSpan? initialRetryDelay = null) =>
        new(
            _services.GetRequiredService<IServiceScopeFactory>(),
            _store,
            _deadLetters,
            new InboxSettings
            {
                ConsumerGroup = "g",
                DbContextType = typeof(TestDb),
                MaxAttempts = maxAttempts,
                InitialRetryDelay = initialRetryDelay ?? TimeSpan.FromSeconds(1),
                MaxRetryDelay = TimeSpan.FromSeconds(30),
            },
            _time,
            new InboxTelemetry(_meters),
            NullLogger.Instance);

    /// <summary>Moves the fake clock on (1 s per look) until the run ends: its backoff waits pass without real time.</summary>
    private Task AdvanceUntilAsync(Task run) =>
        Eventually.TrueAsync(
            () =>
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                return run.IsCompleted;
            },
            "the run ends",
            TimeSpan.FromSeconds(30));

    private async Task<List<string>> EffectsAsync()
    {
        await using var scope = _services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TestDb>().Effects.Select(e => e.EventId).OrderBy(e => e).ToListAsync();
    }

    private static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    private static InboxItem Item(long offset, string id, string key, bool batching = false) => new()
    {
        Record = new InboxRecord { Topic = Topic, Partition = 0, Offset = offset, Id = id, Type = nameof(TestEvent), Key = Key(key) },
        Kind = InboxRecordKind.Handle,
        Event = new TestEvent(id),
        Handlers = [InboxSubscription.Create<TestEvent, TestHandler>(batching)],
    };

    public sealed record TestEvent(string Id);

    public sealed class Effect
    {
        public int Id { get; set; }

        public string EventId { get; set; } = "";
    }

    public sealed class InboxRow
    {
        public string Id { get; set; } = "";
    }

    public sealed class TestDb(DbContextOptions<TestDb> options) : DbContext(options)
    {
        public DbSet<Effect> Effects => Set<Effect>();

        public DbSet<InboxRow> InboxRows => Set<InboxRow>();
    }

    /// <summary>What the handler does per event id: which call fails and how; records each call's attempt and time.</summary>
    public sealed class Script(TimeProvider time)
    {
        private readonly ConcurrentDictionary<string, Func<int, Exception?>> _failures = new();
        private readonly ConcurrentDictionary<string, List<(int Attempt, DateTimeOffset At)>> _calls = new();

        public TimeProvider Time => time;

        public void Fail(string id, Func<int, Exception?> failure) => _failures[id] = failure;

        public int Calls(string id) => _calls.TryGetValue(id, out var calls) ? calls.Count : 0;

        public List<int> Attempts(string id) => _calls.GetValueOrDefault(id, []).Select(c => c.Attempt).ToList();

        public List<DateTimeOffset> Times(string id) => _calls.GetValueOrDefault(id, []).Select(c => c.At).ToList();

        public Exception? Call(string id, int attempt, DateTimeOffset at)
        {
            var calls = _calls.GetOrAdd(id, _ => []);
            calls.Add((attempt, at));
            return _failures.TryGetValue(id, out var failure) ? failure(calls.Count) : null;
        }
    }

    public sealed class TestHandler(TestDb db, Script script) : IInboxHandler<TestEvent>
    {
        public Task HandleAsync(TestEvent message, MessageContext context, CancellationToken cancellationToken)
        {
            if (script.Call(message.Id, context.Attempt, script.Time.GetUtcNow()) is { } error)
            {
                throw error;
            }

            db.Effects.Add(new Effect { EventId = message.Id });
            return Task.CompletedTask;
        }
    }

    /// <summary>Inbox rows are tracked on the consumer's context, so they commit with its SaveChanges or not at all.</summary>
    private sealed class FakeInboxStore : IInboxStore
    {
        public ConcurrentQueue<ParkedRecord> Parked { get; } = new();

        public async Task<IReadOnlySet<string>> AddAsync(DbContext context, InboxPosition position, IReadOnlyList<InboxEntry> entries, DateTimeOffset now, CancellationToken cancellationToken)
        {
            var db = (TestDb)context;
            var ids = entries.Select(e => e.MessageId).ToList();
            var existing = await db.InboxRows.Where(r => ids.Contains(r.Id)).Select(r => r.Id).ToListAsync(cancellationToken);
            var fresh = ids.Except(existing).ToHashSet(StringComparer.Ordinal);
            foreach (var id in fresh)
            {
                db.InboxRows.Add(new InboxRow { Id = id });
            }

            return fresh;
        }

        public Task SaveOffsetAsync(DbContext context, InboxPosition position, DateTimeOffset now, CancellationToken cancellationToken) => Task.CompletedTask;

        public IReadOnlyDictionary<(string Topic, int Partition), long> ReadOffsets(DbContext context, string consumerGroup, IReadOnlyCollection<string> topics) =>
            new Dictionary<(string Topic, int Partition), long>();

        public Task<int> DeleteHandledBeforeAsync(DbContext context, string consumerGroup, DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
            Task.FromResult(0);

        public Task ParkAsync(DbContext context, string consumerGroup, ParkedRecord record, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Parked.Enqueue(record);
            return Task.CompletedTask;
        }

        public IReadOnlyList<InboxParkedKey> ReadParkedKeys(DbContext context, string consumerGroup, string topic, int partition) => [];

        public Task<IReadOnlyList<ParkedRecord>> ReadReplayRequestsAsync(DbContext context, string consumerGroup, string topic, int partition, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ParkedRecord>>([]);

        public Task RemoveParkedAsync(DbContext context, string consumerGroup, string topic, int partition, long offset, CancellationToken cancellationToken) =>
            Task.CompletedTask;

        public Task ReparkAsync(DbContext context, string consumerGroup, ParkedRecord record, bool endKeyReplay, DateTimeOffset now, CancellationToken cancellationToken) =>
            Task.CompletedTask;
    }

    private sealed class FakeDeadLetters : IDeadLetterPublisher
    {
        public ConcurrentQueue<DeadLetter> Sent { get; } = new();

        public Task<string> PublishAsync(InboxRecord record, string consumerGroup, DeadLetter deadLetter, CancellationToken cancellationToken)
        {
            Sent.Enqueue(deadLetter);
            return Task.FromResult(record.Topic + ".dlq");
        }
    }
}
