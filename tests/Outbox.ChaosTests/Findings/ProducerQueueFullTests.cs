using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.BadInput;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.Findings;

/// <summary>
/// A relay batch larger than librdkafka's local queue (<c>queue.buffering.max.messages</c>, 100,000 by default; reached
/// with <c>MaxBatchSize</c> x <c>MaxConcurrentLanes</c> above it, or a smaller queue) makes <c>Produce</c> throw
/// <c>Local_QueueFull</c>; the publisher waits and hands the record over again. It must still complete the batch.
/// </summary>
/// <remarks>
/// Failed before commit af26efc (docs/reliability.md, "Findings"): <c>DeliveryBatch.Unexpect</c> marked the record's slot as
/// settled, so the delivery report of the second, successful hand-over was ignored and the batch's pending count never
/// reached zero. <c>PublishAsync</c> then waited forever: the lane stopped (its lease kept being renewed, so no other
/// relay took it over) until the process restarted, and the rows already in Kafka were published again then.
/// </remarks>
[Collection(BadInputCollection.Name)]
public sealed class ProducerQueueFullTests(BadInputFixture fixture, ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task A_batch_larger_than_the_producer_queue_is_published_and_completed()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 1);
        using (var writer = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, _ => { }))
        {
            for (var i = 0; i < 60; i++)
            {
                await Writes.WriteAsync(writer.Services, "k0001");
            }
        }

        using var relay = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox,
            o => o.AddPollingRelay(r =>
            {
                r.MaxBatchSize = 50;
                r.MaxConcurrentLanes = 1;
            }),
            kafka: k => k.Producer.QueueBufferingMaxMessages = 10);
        await relay.StartAsync();
        try
        {
            await Eventually.TrueAsync(async () => await PendingAsync(cs) == 0, "every row is published and removed", TimeSpan.FromSeconds(30));
        }
        finally
        {
            var published = TopicReader.Read(fixture.Kafka.BootstrapServers, topic, TimeSpan.FromSeconds(30)).Records
                .Select(r => JsonSerializer.Deserialize<ChaosEvent>(r.Value!, Json)!.Version).ToList();
            var pending = await PendingAsync(cs);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pending rows {pending}; records in Kafka {published.Count} (versions {published.DefaultIfEmpty().Min()}..{published.DefaultIfEmpty().Max()})"));
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await relay.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                // A stalled lane also makes the stop run out of time; the wait above says what went wrong.
            }
        }

        Assert.Equal(Enumerable.Range(1, 60).Select(v => (long)v), TopicReader.Read(fixture.Kafka.BootstrapServers, topic, TimeSpan.FromSeconds(30)).Records
            .Select(r => JsonSerializer.Deserialize<ChaosEvent>(r.Value!, Json)!.Version).Distinct());
    }

    private static async Task<long> PendingAsync(string cs)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM outbox.messages", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
