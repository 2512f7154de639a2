using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using Outbox.Benchmarks.Macro;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// Write path, ADO.NET/Dapper: 1,000 events in one transaction with <see cref="OutboxWriter.EnqueueBatchAsync"/>
/// against a raw binary COPY of the same, already serialized rows into a table of the outbox shape without the
/// commit-order trigger (baseline: the fastest way those bytes get into such a table), the same COPY into the real
/// outbox table (the trigger's share), and a 1,000-row multi-VALUES INSERT into the real outbox table (the
/// alternative to COPY). Goal: the writer at least 60% of the baseline's rate. The writer runs twice: into the default
/// schema (with the trigger the polling relay needs) and into the schema of the CDC relay and Debezium
/// (<see cref="OutboxCommitOrder.WriteAheadLog"/>, no trigger), which is the same table shape as the baseline's.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class BatchEnqueueBenchmarks
{
    private const string PlainTable = "bench.messages_plain";
    private const string OutboxTable = "outbox.messages";
    private const string WalSchema = "outbox_wal";

    private MicroDatabase _database = null!;
    private ServiceProvider _services = null!;
    private NpgsqlConnection _connection = null!;
    private OutboxWriter _writer = null!;
    private ServiceProvider _walServices = null!;
    private OutboxWriter _walWriter = null!;
    private object[] _events = [];
    private OutboxMessage[] _rows = [];
    private string _multiValuesSql = "";

    [Params(1000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _database = MicroDatabase.Create("bench_enqueue");
        var workload = new Workload("micro", Rows);
        _services = new ServiceCollection()
            .AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSql(_database.ConnectionString)
            .Services.BuildServiceProvider();
        _walServices = new ServiceCollection()
            .AddOutbox(o =>
            {
                o.Schema = WalSchema;
                o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId);
            })
            .UsePostgreSql(_database.ConnectionString)
            .Services.BuildServiceProvider();
        var options = workload.CreateOptions();
        var walOptions = workload.CreateOptions();
        walOptions.Schema = WalSchema;
        using (var dataSource = NpgsqlDataSource.Create(_database.ConnectionString))
        {
            OutboxSchema.EnsureCreatedAsync(dataSource, options).GetAwaiter().GetResult();
            _database.Execute(OutboxSchema.CreateScript(walOptions, OutboxCommitOrder.WriteAheadLog));
        }

        _database.Execute($"CREATE SCHEMA bench; CREATE TABLE {PlainTable} (LIKE {OutboxTable} INCLUDING ALL);");
        _writer = _services.GetRequiredService<OutboxWriter>();
        _walWriter = _walServices.GetRequiredService<OutboxWriter>();
        _events = [.. Enumerable.Range(0, Rows).Select(i => (object)workload.Event(i))];
        _rows = RawRows.Build(workload, options);
        _multiValuesSql = MultiValuesSql(Rows);
        _connection = new NpgsqlConnection(_database.ConnectionString);
        _connection.Open();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.Dispose();
        _services.Dispose();
        _walServices.Dispose();
        _database.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public async Task RawCopyIntoPlainTable()
    {
        FreshIds();
        await using var transaction = await _connection.BeginTransactionAsync();
        await RawRows.CopyAsync(_connection, PlainTable, _rows, 0, _rows.Length, default);
        await transaction.CommitAsync();
    }

    [Benchmark]
    public async Task RawCopyIntoOutboxTable()
    {
        FreshIds();
        await using var transaction = await _connection.BeginTransactionAsync();
        await RawRows.CopyAsync(_connection, OutboxTable, _rows, 0, _rows.Length, default);
        await transaction.CommitAsync();
    }

    [Benchmark]
    public async Task MultiValuesInsertIntoOutboxTable()
    {
        FreshIds();
        await using var transaction = await _connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(_multiValuesSql, _connection, transaction);
        foreach (var m in _rows)
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = m.Id });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.AggregateType });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.AggregateId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Type });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Payload, NpgsqlDbType = NpgsqlDbType.Jsonb });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = m.Lane });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = m.CreatedAt });
        }

        await command.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    [Benchmark]
    public async Task OutboxWriterEnqueueBatch()
    {
        await using var transaction = await _connection.BeginTransactionAsync();
        await _writer.EnqueueBatchAsync(_connection, transaction, _events);
        await transaction.CommitAsync();
    }

    /// <summary>The writer into the CDC/Debezium schema (<see cref="OutboxCommitOrder.WriteAheadLog"/>): no commit-order trigger.</summary>
    [Benchmark]
    public async Task OutboxWriterEnqueueBatchWithoutCommitTrigger()
    {
        await using var transaction = await _connection.BeginTransactionAsync();
        await _walWriter.EnqueueBatchAsync(_connection, transaction, _events);
        await transaction.CommitAsync();
    }

    private static string MultiValuesSql(int rows)
    {
        var sql = new StringBuilder($"INSERT INTO {OutboxTable} (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts) VALUES ");
        for (var r = 0; r < rows; r++)
        {
            var p = (r * 7) + 1;
            sql.Append(r == 0 ? "" : ", ")
               .Append(System.Globalization.CultureInfo.InvariantCulture, $"(${p}, ${p + 1}, ${p + 2}, ${p + 3}, ${p + 4}, ${p + 5}, ${p + 6}, 0)");
        }

        return sql.ToString();
    }

    // The primary key forbids writing the same rows twice; a new UUIDv7 per row costs what the writer pays too.
    private void FreshIds()
    {
        foreach (var row in _rows)
        {
            row.Id = Guid.CreateVersion7();
        }
    }
}
