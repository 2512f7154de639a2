using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka.Consuming;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>
/// The inbox consumer's engine without its hosted service: the container builds it (a keyed singleton per group), and
/// the test drives its poll loop one iteration (<see cref="InboxConsumer.PollOnce"/>) at a time.
/// </summary>
public sealed class InboxConsumerEngineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Iterations_driven_by_the_test_handle_a_record_and_store_its_offset()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "engine-" + Guid.NewGuid().ToString("N")[..8];
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(harness.ConnectionString).UseOutbox(sp));
        builder.Services
            .AddOutbox(o =>
            {
                o.TopicTemplate = harness.Prefix + "." + OutboxOptions.AggregateTypePlaceholder;
                o.MapEvent<MovieStarted>("movie", e => e.UserId);
            })
            .UsePostgreSql(harness.ConnectionString)
            .UseKafka(k =>
            {
                k.BootstrapServers = harness.Kafka.BootstrapServers;
                k.Consumer.SessionTimeoutMs = 3000;
                k.Consumer.HeartbeatIntervalMs = 300;
            })
            .AddConsumer<InboxTestDb>(group, c => c.Subscribe<MovieStarted, NoOpHandler>());
        using var host = builder.Build();
        var consumer = host.Services.GetRequiredKeyedService<InboxConsumer>(group);
        Assert.Same(consumer, host.Services.GetServices<IHostedService>().OfType<InboxConsumerHost>().Single().Consumer);

        await harness.ProduceAsync([new MovieStarted("u1", 1)]);
        consumer.Start();
        try
        {
            await Eventually.TrueAsync(
                async () =>
                {
                    consumer.PollOnce(TimeSpan.FromMilliseconds(100));
                    return (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 1;
                },
                "the record is handled and its next offset stored");
        }
        finally
        {
            consumer.RequestStop();
            consumer.Shutdown();
        }
    }
}
