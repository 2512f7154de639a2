using System.Text.Json;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.IntegrationTests.Cdc;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// The seam between <see cref="RelayContractTests"/> and one relay: a database with the outbox schema and a topic of
/// its own, relay hosts configured like an application (started, stopped gracefully, killed), the two write paths
/// (EF Core's SaveChanges and OutboxWriter), the broker (down, up, failing requests) and a reader of the topic.
/// Everything relay-specific is in the subclass; everything a test asserts is read the same way for every relay.
/// </summary>
public abstract class RelayContractDriver : IAsyncDisposable
{
    private readonly List<ContractRelay> _relays = [];
    private ServiceProvider? _applicationServices;
    private int _nextToken;

    protected RelayContractDriver(ITestOutputHelper output, KafkaServer kafka)
    {
        Output = output;
        Kafka = kafka;
    }

    public ITestOutputHelper Output { get; }

    /// <summary>The relay's own cluster: tests take it down and inject errors without disturbing other classes.</summary>
    public KafkaServer Kafka { get; }

    public ContractLedger Ledger { get; } = new();

    public abstract string ConnectionString { get; }

    public abstract NpgsqlDataSource DataSource { get; }

    public abstract OutboxWriter Writer { get; }

    public abstract string Topic { get; }

    public abstract int Partitions { get; }

    /// <summary>Configures the outbox the way the relay's harness does (topic template, the event mapping).</summary>
    protected abstract void ConfigureOutbox(OutboxOptions options);

    /// <summary>The relay's test event for <paramref name="key"/>, carrying <paramref name="token"/> as its sequence number.</summary>
    protected abstract object CreateEvent(string key, int token, string? text);

    /// <summary>Starts a relay host through the public API (AddOutbox().UsePostgreSql().UseKafka().Add...Relay()).</summary>
    protected abstract Task<ContractRelay> StartRelayCoreAsync(string name, RelayContractSettings settings);

    /// <summary>Waits until the relay works (holds lanes, streams its slot).</summary>
    public abstract Task WaitUntilActiveAsync(ContractRelay relay);

    /// <summary>Ends a relay the way a crash does: no graceful stop, no hand-back of what it holds.</summary>
    protected abstract Task KillCoreAsync(ContractRelay relay);

    /// <summary>Committed events not yet acknowledged by Kafka (rows the relay still has to publish).</summary>
    public abstract Task<long> CountPendingAsync();

    /// <summary>Events the relay gave up on (dead-lettered). Extend with parked events when parking lands (issue 15).</summary>
    /// <summary>Events given up on: dead letters, and keys a relay holds back (parked, or waiting for a retry).</summary>
    public virtual async Task<long> CountGivenUpAsync() =>
        await ScalarAsync("SELECT (SELECT count(*) FROM outbox.dead_letters) + (SELECT count(*) FROM outbox.messages_parked WHERE released_at_lsn IS NULL)");

    /// <summary>The operator API of parked keys on this driver's database.</summary>
    public OutboxParking Parking => new(DataSource, ApplicationOptions());

    private OutboxOptions ApplicationOptions()
    {
        var options = new OutboxOptions();
        ConfigureOutbox(options);
        return options;
    }

    /// <summary>Creates the application's table and services; called by the subclass's factory once its harness exists.</summary>
    protected async Task InitializeAsync()
    {
        await using (var command = DataSource.CreateCommand(ContractDb.CreateTableSql))
        {
            await command.ExecuteNonQueryAsync();
        }

        var services = new ServiceCollection();
        services.AddOutbox(ConfigureOutbox).UsePostgreSql(ConnectionString);
        services.AddDbContext<ContractDb>((sp, db) => db.UseNpgsql(ConnectionString).UseOutbox(sp));
        _applicationServices = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>A scope of the application's services, for a <see cref="ContractDb"/> of its own.</summary>
    public AsyncServiceScope CreateScope() =>
        (_applicationServices ?? throw new InvalidOperationException("The driver is not initialized.")).CreateAsyncScope();

    /// <summary>A new event of <paramref name="key"/> with the next token (tokens grow in the order events are created).</summary>
    public (object Event, int Token) NewEvent(string key, string? text = null)
    {
        var token = Interlocked.Increment(ref _nextToken);
        return (CreateEvent(key, token, text), token);
    }

    /// <summary>A payload of <paramref name="bytes"/> characters: above <see cref="RelayContractSettings.ProducerMessageMaxBytes"/>, the producer refuses the event.</summary>
    public static string PayloadOver(int bytes) => new('x', bytes + 1);

    public async Task<ContractRelay> StartRelayAsync(string name, RelayContractSettings? settings = null, bool waitUntilActive = true)
    {
        var relay = await StartRelayCoreAsync(name, settings ?? RelayContractSettings.Default);
        _relays.Add(relay);
        if (waitUntilActive)
        {
            await WaitUntilActiveAsync(relay);
        }

        return relay;
    }

    /// <summary>Stops a relay gracefully (as the host does on SIGTERM): what is in flight settles, what it holds is handed back.</summary>
    public async Task StopAsync(ContractRelay relay)
    {
        await relay.Host.StopAsync(TimeSpan.FromSeconds(30));
        relay.End();
        Output.WriteLine($"stopped {relay.Name} after {relay.Published} acknowledgements");
    }

    /// <summary>
    /// Kills a relay (see <see cref="KillCoreAsync"/>) while every broker is down, as a process that dies takes its
    /// producer's queue with it: what the brokers already took stays in Kafka (acknowledged or not), what was still
    /// queued in the producer is lost, instead of being flushed by the producer's dispose.
    /// </summary>
    public async Task KillAsync(ContractRelay relay)
    {
        // The count before the kill: a killed relay's services are gone.
        relay.End();
        Kafka.SetAllBrokersDown();
        try
        {
            await KillCoreAsync(relay);
        }
        finally
        {
            Kafka.SetAllBrokersUp();
        }
    }

    /// <summary>Stops the host with its patience already used up (in-flight work aborted, nothing handed back), then disposes it.</summary>
    protected async Task AbortHostAsync(IHost host)
    {
        using var noPatience = new CancellationTokenSource();
        await noPatience.CancelAsync();
        try
        {
            await host.StopAsync(noPatience.Token);
        }
        catch (Exception ex)
        {
            // An aborted stop may report what it could not finish: that is the point.
            Output.WriteLine($"aborted host: {ex.GetType().Name}: {ex.Message}");
        }

        await ((IAsyncDisposable)host).DisposeAsync();
    }

    public Task<ContractTransaction> BeginAsync(WritePath path) => ContractTransaction.BeginAsync(this, path);

    /// <summary>Writes one event of each key in one transaction (each written, then its key locked) and commits.</summary>
    public async Task<IReadOnlyList<int>> WriteAsync(WritePath path, params string[] keys)
    {
        await using var transaction = await BeginAsync(path);
        var tokens = new List<int>();
        foreach (var key in keys)
        {
            tokens.Add(await transaction.WriteLockedEventAsync(key));
        }

        await transaction.CommitAsync();
        return tokens;
    }

    /// <summary>
    /// Writes <paramref name="transactions"/> transactions of 1 to <paramref name="maxPerTransaction"/> events over
    /// <paramref name="keys"/>, alternating the write paths; stops early when <paramref name="stop"/> is cancelled.
    /// </summary>
    public async Task<int> WriteManyAsync(
        IReadOnlyList<string> keys, int transactions, int maxPerTransaction = 3, int seed = 0, TimeSpan? pause = null, CancellationToken stop = default)
    {
        var random = new Random(seed);
        var written = 0;
        for (var i = 0; i < transactions && !stop.IsCancellationRequested; i++)
        {
            var size = random.Next(1, maxPerTransaction + 1);
            // Sorted: writers that share keys lock them in one order (no deadlocks).
            var chosen = Enumerable.Range(0, size).Select(_ => keys[random.Next(keys.Count)]).Order(StringComparer.Ordinal).ToArray();
            written += (await WriteAsync(i % 2 == 0 ? WritePath.EfCore : WritePath.OutboxWriter, chosen)).Count;
            if (pause is { } delay)
            {
                // Spreads the load over the test's duration (shaping, not synchronisation).
                await Task.Delay(delay, CancellationToken.None);
            }
        }

        return written;
    }

    public static string[] Keys(string prefix, int count) => Enumerable.Range(0, count).Select(i => prefix + i).ToArray();

    public void SetAllBrokersDown() => Kafka.SetAllBrokersDown();

    public void SetAllBrokersUp() => Kafka.SetAllBrokersUp();

    /// <summary>Delays every broker's responses by <paramref name="rtt"/> (<see cref="TimeSpan.Zero"/> removes the delay).</summary>
    public void SetBrokerLatency(TimeSpan rtt)
    {
        for (var broker = 1; broker <= Kafka.Brokers; broker++)
        {
            Kafka.SetRtt(broker, rtt);
        }
    }

    /// <summary>Makes the next produce requests (to any broker) fail with <paramref name="errors"/>, in order.</summary>
    public void FailNextProduceRequests(params ErrorCode[] errors) => Kafka.PushRequestErrors(KafkaApiKey.Produce, errors);

    public void ClearProduceRequestErrors() => Kafka.ClearRequestErrors(KafkaApiKey.Produce);

    public async Task<long> ScalarAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<bool> IsWaitingOnLockAsync(int pid)
    {
        await using var command = DataSource.CreateCommand("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
        return await command.ExecuteScalarAsync() is true;
    }

    /// <summary>Waits for a condition; on time-out the subclass may write what the relays look like.</summary>
    public virtual Task WaitAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(condition, because, timeout);

    public Task WaitAsync(Func<bool> condition, string because, TimeSpan? timeout = null) =>
        WaitAsync(() => Task.FromResult(condition()), because, timeout);

    public Task WaitUntilDrainedAsync(TimeSpan? timeout = null) =>
        WaitAsync(async () => await CountPendingAsync() == 0, "every committed event is acknowledged by Kafka", timeout ?? TimeSpan.FromSeconds(120));

    /// <summary>Every record of the topic, up to the current end of each partition.</summary>
    public List<ContractRecord> ReadTopic() =>
        CdcHarness.ReadAll(Kafka, Topic, Partitions)
            .Select(r =>
            {
                using var payload = JsonDocument.Parse(r.Value);
                return new ContractRecord(r.KeyText, payload.RootElement.GetProperty("seq").GetInt32(), r.Id, r.Partition, r.Offset);
            })
            .ToList();

    /// <summary>
    /// The contract's core check, against the ledger: every committed event is in Kafka; no other event is (nothing
    /// rolled back, nothing unknown); each key's records are on one partition and, after dropping repeats, in commit
    /// order. Returns the number of repeats (at least once allows them).
    /// </summary>
    public int AssertCommittedInOrder(IReadOnlyList<ContractRecord> records)
    {
        var expected = Ledger.Expected();
        var rolledBack = Ledger.RolledBackTokens;
        var problems = new List<string>();
        var leaked = records.Where(r => rolledBack.Contains(r.Token)).ToList();
        if (leaked.Count > 0)
        {
            problems.Add($"{leaked.Count} events of rolled-back transactions were published, e.g. {leaked[0]}");
        }

        var unknownKeys = records.Select(r => r.Key).Distinct().Where(k => !expected.ContainsKey(k)).ToList();
        if (unknownKeys.Count > 0)
        {
            problems.Add($"records of keys never committed: {string.Join(", ", unknownKeys.Take(10))}");
        }

        var duplicates = 0;
        var byKey = records.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Partition).ThenBy(r => r.Offset).ToList());
        foreach (var (key, tokens) in expected)
        {
            if (!byKey.TryGetValue(key, out var list))
            {
                problems.Add($"{key}: nothing arrived ({tokens.Count} committed)");
                continue;
            }

            if (list.Select(r => r.Partition).Distinct().Count() != 1)
            {
                problems.Add($"{key}: spread over several partitions");
            }

            var seen = new HashSet<int>();
            var firsts = new List<int>();
            foreach (var record in list)
            {
                if (seen.Add(record.Token))
                {
                    firsts.Add(record.Token);
                }
                else
                {
                    duplicates++;
                }
            }

            if (!firsts.SequenceEqual(tokens))
            {
                var at = firsts.Zip(tokens).TakeWhile(p => p.First == p.Second).Count();
                problems.Add($"{key}: {tokens.Count} committed, {firsts.Count} distinct published; first difference at position {at}: " +
                             $"expected {string.Join(",", tokens.Skip(at).Take(8))}, got {string.Join(",", firsts.Skip(at).Take(8))}");
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} contract violations:\n" + string.Join("\n", problems.Take(20)));
        Output.WriteLine($"{records.Count} records for {Ledger.CommittedCount} committed events over {expected.Count} keys: {duplicates} repeats.");
        return duplicates;
    }

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays.Where(r => !r.Ended))
        {
            try
            {
                await relay.Host.StopAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or AggregateException)
            {
                Output.WriteLine($"stopping {relay.Name}: {ex.Message}");
            }
        }

        if (_applicationServices is not null)
        {
            await _applicationServices.DisposeAsync();
        }

    }
}
