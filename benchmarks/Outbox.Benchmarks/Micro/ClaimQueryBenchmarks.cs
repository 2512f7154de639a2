using BenchmarkDotNet.Attributes;
using Npgsql;
using Outbox.Benchmarks.Macro;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// The relay's claim: read a batch in lane order with a plain SELECT (baseline) against the raw claim+delete statement
/// (<c>FOR UPDATE SKIP LOCKED</c> in a CTE, <c>DELETE ... RETURNING</c>), on a 100,000-row outbox table. Each call runs in
/// a transaction that is rolled back, so the table stays the same from call to call.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class ClaimQueryBenchmarks
{
    private const int TableRows = 100_000;

    private MicroDatabase _database = null!;
    private NpgsqlConnection _connection = null!;
    private string _readSql = "";
    private string _claimDeleteSql = "";

    [Params(100, 500)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _database = MicroDatabase.Create("bench_claim");
        var workload = new Workload("micro", TableRows);
        var options = workload.CreateOptions();
        using (var dataSource = NpgsqlDataSource.Create(_database.ConnectionString))
        {
            OutboxSchema.EnsureCreatedAsync(dataSource, options).GetAwaiter().GetResult();
            var rows = RawRows.Build(workload, options);
            using var connection = dataSource.OpenConnection();
            for (var start = 0; start < rows.Length; start += 1000)
            {
                RawRows.CopyAsync(connection, "outbox.messages", rows, start, 1000, default).GetAwaiter().GetResult();
            }
        }

        _database.Execute("VACUUM ANALYZE outbox.messages");
        _readSql = RawSql.ReadBatch("outbox.messages", Batch);
        _claimDeleteSql = RawSql.ClaimDelete("outbox.messages", Batch);
        _connection = new NpgsqlConnection(_database.ConnectionString);
        _connection.Open();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.Dispose();
        _database.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public Task<int> ReadBatch() => RunRolledBackAsync(_readSql);

    [Benchmark]
    public Task<int> RawClaimDelete() => RunRolledBackAsync(_claimDeleteSql);

    private async Task<int> RunRolledBackAsync(string sql)
    {
        await using var transaction = await _connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(sql, _connection, transaction);
        var count = 0;
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                _ = reader.GetGuid(0);
                _ = reader.GetString(4);
                count++;
            }
        }

        await transaction.RollbackAsync();
        return count;
    }
}
