using Confluent.Kafka;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>
/// What librdkafka's mock cluster (the embedded broker, librdkafka 2.16.0) does with Kafka transactions, pinned so that
/// the README's "Transactions" section stays true: when a librdkafka upgrade starts modelling fencing or aborted
/// records, this test fails and the section (and what the library can test on the embedded broker) must be revisited.
/// </summary>
public sealed class EmbeddedKafkaTransactionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task The_embedded_cluster_runs_transactions_but_neither_fences_an_earlier_producer_nor_hides_aborted_records()
    {
        await using var kafka = await KafkaServer.StartAsync(
            new KafkaServerOptions { Kind = KafkaServerKind.Embedded, Log = TestOutputLog.For(output) });
        var topic = "transactions-" + Guid.NewGuid().ToString("N");
        kafka.CreateTopic(topic, partitions: 1);
        var transactionalId = "tx-" + Guid.NewGuid().ToString("N");

        using var first = Transactional(kafka.BootstrapServers, transactionalId);
        first.InitTransactions(s_generous);
        await ProduceInTransactionAsync(first, topic, "committed", commit: true);
        await ProduceInTransactionAsync(first, topic, "aborted", commit: false);
        first.BeginTransaction();
        await first.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "left-open" }).WaitAsync(s_generous);

        // A second producer with the same transactional.id: on Apache Kafka its InitTransactions aborts the open
        // transaction and fences the first producer (its next produce or commit fails with a fenced error).
        using var second = Transactional(kafka.BootstrapServers, transactionalId);
        second.InitTransactions(s_generous);
        var late = await first.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "late" }).WaitAsync(s_generous);
        Assert.Equal(PersistenceStatus.Persisted, late.Status);
        first.CommitTransaction(s_generous);
        await ProduceInTransactionAsync(second, topic, "after-takeover", commit: true);

        var readCommitted = ReadAll(kafka.BootstrapServers, topic, IsolationLevel.ReadCommitted);
        var readUncommitted = ReadAll(kafka.BootstrapServers, topic, IsolationLevel.ReadUncommitted);
        output.WriteLine("read_committed:   " + string.Join(", ", readCommitted));
        output.WriteLine("read_uncommitted: " + string.Join(", ", readUncommitted));

        // The broker writes the transaction markers (they take offsets: 5 records, 4 markers) ...
        Assert.Equal(["committed@0", "aborted@2", "left-open@4", "late@5", "after-takeover@7"], readUncommitted);
        // ... but a read_committed consumer is still handed the aborted record and the fenced producer's.
        Assert.Equal(readUncommitted, readCommitted);
    }

    private static IProducer<string, string> Transactional(string bootstrapServers, string transactionalId)
    {
        var config = KafkaTestClients.IdempotentProducer(bootstrapServers);
        config.TransactionalId = transactionalId;
        config.MessageTimeoutMs = 60_000; // at most transaction.timeout.ms (librdkafka refuses the producer otherwise)
        return KafkaTestClients.BuildProducer(config);
    }

    private static async Task ProduceInTransactionAsync(IProducer<string, string> producer, string topic, string value, bool commit)
    {
        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = value }).WaitAsync(s_generous);
        if (commit)
        {
            producer.CommitTransaction(s_generous);
        }
        else
        {
            producer.AbortTransaction(s_generous);
        }
    }

    private static List<string> ReadAll(string bootstrapServers, string topic, IsolationLevel isolation)
    {
        var config = KafkaTestClients.GroupConsumer(bootstrapServers);
        config.IsolationLevel = isolation;
        config.EnablePartitionEof = true;
        using var consumer = KafkaTestClients.BuildConsumer<string, string>(config);
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var records = new List<string>();
        var deadline = DateTime.UtcNow + s_generous;
        while (DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                return records;
            }

            records.Add($"{result.Message.Value}@{result.Offset.Value}");
        }

        throw new TimeoutException($"no end of partition within {s_generous} ({isolation}); read so far: {string.Join(", ", records)}");
    }
}
