using System.Diagnostics;
using Confluent.Kafka;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// The machine's own limits, measured with the same rows the library writes and sends: raw binary COPY, raw
/// claim+delete drain, raw pgoutput decode, raw idempotent produce.
/// </summary>
internal sealed class Baselines(string connectionString, Workload workload, OutboxMessage[] rows) : IAsyncDisposable
{
    public const int TransactionRows = 1000;
    public const int ClaimBatch = 500;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public static async Task<Baselines> CreateAsync(string connectionString, Workload workload, CancellationToken cancellationToken)
    {
        var options = workload.CreateOptions(RawSql.Schema);
        var rows = RawRows.Build(workload, options);
        var baselines = new Baselines(connectionString, workload, rows);
        await OutboxSchema.EnsureCreatedAsync(baselines._dataSource, options, cancellationToken);
        await RawRows.ExecuteAsync(baselines._dataSource, RawSql.CreatePlainTables, cancellationToken);
        return baselines;
    }

    public OutboxMessage[] Rows => rows;

    /// <summary>W writers COPY the rows in 1,000-row transactions into a table of the outbox shape with no trigger.</summary>
    public async Task<BaselineResult> CopyInsertAsync(int writers, CancellationToken cancellationToken)
    {
        var parts = RawRows.Partition(workload, rows, writers, TransactionRows);
        long written = 0;
        await using var progress = Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"baseline copy_insert: {Interlocked.Read(ref written):N0}/{rows.Length:N0} rows"));
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(parts.Select(part => Task.Run(
            async () =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                foreach (var chunk in part)
                {
                    await RawRows.CopyAsync(connection, RawSql.PlainMessages, chunk, 0, chunk.Length, cancellationToken);
                    Interlocked.Add(ref written, chunk.Length);
                }
            },
            cancellationToken)));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new BaselineResult("copy_insert", rows.Length, writers, seconds);
    }

    /// <summary>Preloads the rows (not timed), then W workers claim and delete them in batches of 500 until none are left.</summary>
    public async Task<BaselineResult> ClaimDeleteAsync(int workers, CancellationToken cancellationToken)
    {
        await PreloadAsync(RawSql.Messages, cancellationToken);
        var sql = RawSql.ClaimDelete(RawSql.Messages, ClaimBatch);
        long drained = 0;
        await using var progress = Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"baseline claim_delete: {Interlocked.Read(ref drained):N0}/{rows.Length:N0} rows"));
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(
            async () =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                await using var command = new NpgsqlCommand(sql, connection);
                await command.PrepareAsync(cancellationToken);
                while (true)
                {
                    var count = 0;
                    await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                    {
                        while (await reader.ReadAsync(cancellationToken))
                        {
                            ReadRow(reader);
                            count++;
                        }
                    }

                    if (count == 0)
                    {
                        return;
                    }

                    Interlocked.Add(ref drained, count);
                }
            },
            cancellationToken)));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (drained != rows.Length)
        {
            throw new InvalidOperationException(Fmt.Inv($"claim_delete drained {drained} rows, expected {rows.Length}."));
        }

        return new BaselineResult("claim_delete", rows.Length, workers, seconds);
    }

    /// <summary>
    /// W writers COPY the rows in 1,000-row transactions into a published table while one logical replication
    /// connection decodes the pgoutput stream (binary mode, every column copied out); timed from the first write to
    /// the last row decoded.
    /// </summary>
    public async Task<BaselineResult> PgOutputDecodeAsync(int writers, CancellationToken cancellationToken)
    {
        // The publication must exist before the slot.
        await RawRows.ExecuteAsync(_dataSource, RawSql.CreatePublication, cancellationToken);
        await using var replication = new LogicalReplicationConnection(connectionString);
        await replication.Open(cancellationToken);
        var slot = await replication.CreatePgOutputReplicationSlot(
            "bench_raw_" + workload.RunId, temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport, cancellationToken: cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long decoded = 0;
        var allDecoded = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var decoder = Task.Run(
            async () =>
            {
                var options = new PgOutputReplicationOptions(RawSql.Publication, PgOutputProtocolVersion.V1, binary: true);
                var lastStatus = Stopwatch.GetTimestamp();
                await foreach (var message in replication.StartReplication(slot, options, stop.Token))
                {
                    if (message is InsertMessage insert)
                    {
                        await DecodeRowAsync(insert, stop.Token);
                        if (++decoded == rows.Length)
                        {
                            allDecoded.TrySetResult(Stopwatch.GetTimestamp());
                        }
                    }

                    if (Stopwatch.GetElapsedTime(lastStatus) > TimeSpan.FromSeconds(1))
                    {
                        replication.SetReplicationStatus(message.WalEnd);
                        await replication.SendStatusUpdate(stop.Token);
                        lastStatus = Stopwatch.GetTimestamp();
                    }
                }
            },
            stop.Token);

        var parts = RawRows.Partition(workload, rows, writers, TransactionRows);
        await using var progress = Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"baseline pgoutput_decode: {Interlocked.Read(ref decoded):N0}/{rows.Length:N0} rows decoded"));
        var started = Stopwatch.GetTimestamp();
        var writing = Task.WhenAll(parts.Select(part => Task.Run(
            async () =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                foreach (var chunk in part)
                {
                    await RawRows.CopyAsync(connection, RawSql.CdcMessages, chunk, 0, chunk.Length, cancellationToken);
                }
            },
            cancellationToken)));
        await writing;
        var writersSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var finished = await allDecoded.Task.WaitAsync(TimeSpan.FromMinutes(10), cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started, finished).TotalSeconds;

        await stop.CancelAsync();
        try
        {
            await decoder;
        }
        catch (OperationCanceledException)
        {
        }

        return new BaselineResult("pgoutput_decode", rows.Length, writers, seconds) { WritersSeconds = writersSeconds };
    }

    /// <summary>
    /// The latency floor of logical decoding: paced writers commit one row per transaction at <paramref name="rate"/>
    /// into a published table (raw INSERT, no trigger) while one Npgsql replication connection decodes the stream;
    /// latency from the COMMIT request to the row's arrival in the decoder. Uses the first rate x seconds rows.
    /// </summary>
    public async Task<double[]> PgOutputLatencyAsync(int rate, int seconds, int pacingWriters, CancellationToken cancellationToken)
    {
        var count = Math.Min(rows.Length, rate * seconds);
        await RawRows.ExecuteAsync(_dataSource, RawSql.CreatePublication, cancellationToken);
        await using var replication = new LogicalReplicationConnection(connectionString);
        await replication.Open(cancellationToken);
        var slot = await replication.CreatePgOutputReplicationSlot(
            "bench_raw_lat_" + workload.RunId, temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport, cancellationToken: cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receivedAt = new System.Collections.Concurrent.ConcurrentDictionary<Guid, long>();
        var decoder = Task.Run(
            async () =>
            {
                var options = new PgOutputReplicationOptions(RawSql.Publication, PgOutputProtocolVersion.V1, binary: true);
                var lastStatus = Stopwatch.GetTimestamp();
                await foreach (var message in replication.StartReplication(slot, options, stop.Token))
                {
                    if (message is InsertMessage insert)
                    {
                        var column = 0;
                        await foreach (var value in insert.NewRow)
                        {
                            if (column++ == 0)
                            {
                                receivedAt.TryAdd(await value.Get<Guid>(stop.Token), Stopwatch.GetTimestamp());
                            }
                        }
                    }

                    if (Stopwatch.GetElapsedTime(lastStatus) > TimeSpan.FromSeconds(1))
                    {
                        replication.SetReplicationStatus(message.WalEnd);
                        await replication.SendStatusUpdate(stop.Token);
                        lastStatus = Stopwatch.GetTimestamp();
                    }
                }
            },
            stop.Token);

        var commitAt = new System.Collections.Concurrent.ConcurrentDictionary<Guid, long>();
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, pacingWriters).Select(w => Task.Run(
            async () =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                await using var insert = new NpgsqlCommand(RawSql.InsertCdcRow, connection);
                for (var i = w; i < count; i += pacingWriters)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), started + (long)(i * (double)Stopwatch.Frequency / rate));
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellationToken);
                    }

                    var m = rows[i];
                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    insert.Transaction = transaction;
                    insert.Parameters.Clear();
                    insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = m.Id });
                    insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.AggregateType });
                    insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.AggregateId });
                    insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Type });
                    insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Payload });
                    insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = m.Lane });
                    insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = m.CreatedAt });
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                    commitAt[m.Id] = Stopwatch.GetTimestamp();
                    await transaction.CommitAsync(cancellationToken);
                }
            },
            cancellationToken)));

        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 30);
        while (receivedAt.Count < count && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(20, cancellationToken);
        }

        await stop.CancelAsync();
        try
        {
            await decoder;
        }
        catch (OperationCanceledException)
        {
        }

        var latencies = commitAt
            .Where(p => receivedAt.ContainsKey(p.Key))
            .Select(p => Stopwatch.GetElapsedTime(p.Value, receivedAt[p.Key]).TotalMilliseconds)
            .Order()
            .ToArray();
        return latencies;
    }

    /// <summary>
    /// The same records (topic of P partitions, key, jsonb-printed value, id and type headers) sent by an idempotent
    /// producer with the library's producer settings; timed from the first send to the last acknowledgement.
    /// Afterwards the topic is read back and checked.
    /// </summary>
    public async Task<(BaselineResult Result, VerificationResult Verification)> KafkaProduceAsync(
        BenchInfrastructure infrastructure, int partitions, CancellationToken cancellationToken)
    {
        var topic = await infrastructure.CreateTopicAsync("bench.raw-produce." + workload.RunId, partitions, cancellationToken);
        var values = await NormalizedPayloadsAsync(cancellationToken);
        var messages = new Message<byte[], byte[]>[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            messages[i] = KafkaRecords.Create(rows[i], values[i]);
        }

        await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: rows.Length > TopicVerifier.LiveThreshold(partitions));
        var config = KafkaRecords.ProducerConfig(infrastructure.BootstrapServers);
        long acked = 0;
        long failed = 0;
        var allAcked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var producer = new ProducerBuilder<byte[], byte[]>(config).Build())
        {
            await using var progress = Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"baseline kafka_produce: {Interlocked.Read(ref acked):N0}/{rows.Length:N0} acknowledged"));
            void OnDelivery(DeliveryReport<byte[], byte[]> report)
            {
                if (report.Error.IsError)
                {
                    Interlocked.Increment(ref failed);
                }

                if (Interlocked.Increment(ref acked) == rows.Length)
                {
                    allAcked.TrySetResult(Stopwatch.GetTimestamp());
                }
            }

            var started = Stopwatch.GetTimestamp();
            foreach (var message in messages)
            {
                while (true)
                {
                    try
                    {
                        producer.Produce(topic, message, OnDelivery);
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(10));
                    }
                }
            }

            var finished = await allAcked.Task.WaitAsync(TimeSpan.FromMinutes(10), cancellationToken);
            var seconds = Stopwatch.GetElapsedTime(started, finished).TotalSeconds;
            if (failed > 0)
            {
                throw new InvalidOperationException(Fmt.Inv($"kafka_produce: {failed} deliveries failed."));
            }

            var verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(30), cancellationToken);
            return (new BaselineResult("kafka_produce", rows.Length, 1, seconds), verification);
        }
    }

    public Task DropAsync(CancellationToken cancellationToken) => RawRows.ExecuteAsync(_dataSource, RawSql.DropAll, cancellationToken);

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();

    private async Task PreloadAsync(string table, CancellationToken cancellationToken)
    {
        await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken))
        {
            for (var start = 0; start < rows.Length; start += TransactionRows)
            {
                await RawRows.CopyAsync(connection, table, rows, start, Math.Min(TransactionRows, rows.Length - start), cancellationToken);
            }
        }

        await RawRows.ExecuteAsync(_dataSource, RawSql.Vacuum(table), cancellationToken);
    }

    private async Task<string[]> NormalizedPayloadsAsync(CancellationToken cancellationToken)
    {
        var result = new string[rows.Length];
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        const int chunk = 20_000;
        for (var start = 0; start < rows.Length; start += chunk)
        {
            var count = Math.Min(chunk, rows.Length - start);
            var payloads = new string[count];
            for (var i = 0; i < count; i++)
            {
                payloads[i] = rows[start + i].Payload;
            }

            await using var command = new NpgsqlCommand(RawSql.NormalizeJson, connection);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = payloads });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var i2 = start;
            while (await reader.ReadAsync(cancellationToken))
            {
                result[i2++] = reader.GetString(0);
            }
        }

        return result;
    }

    private static void ReadRow(NpgsqlDataReader reader)
    {
        _ = reader.GetGuid(0);
        _ = reader.GetString(1);
        _ = reader.GetString(2);
        _ = reader.GetString(3);
        _ = reader.GetString(4);
        _ = reader.GetInt32(5);
        _ = reader.IsDBNull(6) ? 0 : reader.GetInt64(6);
        _ = reader.GetFieldValue<DateTimeOffset>(7);
        _ = reader.IsDBNull(8) ? null : reader.GetString(8);
        _ = reader.IsDBNull(9) ? null : reader.GetString(9);
    }

    private static async Task DecodeRowAsync(InsertMessage insert, CancellationToken cancellationToken)
    {
        var column = 0;
        await foreach (var value in insert.NewRow)
        {
            if (!value.IsDBNull)
            {
                switch (column)
                {
                    case 0:
                        _ = await value.Get<Guid>(cancellationToken);
                        break;
                    case 5 or 10:
                        _ = await value.Get<int>(cancellationToken);
                        break;
                    case 6:
                        _ = await value.Get<long>(cancellationToken);
                        break;
                    case 7 or 12 or 13:
                        _ = await value.Get<DateTimeOffset>(cancellationToken);
                        break;
                    default:
                        _ = await value.Get<string>(cancellationToken);
                        break;
                }
            }

            column++;
        }
    }
}
