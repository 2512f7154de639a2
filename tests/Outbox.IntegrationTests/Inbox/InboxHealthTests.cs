using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka.Consuming;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>Consumer health per partition, parked keys (Degraded and gauges), and the read-ahead's byte budget.</summary>
public sealed class InboxHealthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_stuck_partition_makes_the_consumer_unhealthy_while_the_other_partitions_progress()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 2);
        var behavior = new HandlerBehavior();
        behavior.DelayBySequence[99] = TimeSpan.FromMinutes(2);
        var group = "stuck-" + Guid.NewGuid().ToString("N")[..8];
        var host = await harness.StartConsumerAsync(group, behavior, configureServices: services =>
            services.AddHealthChecks().AddOutboxHealthChecks(o => o.ConsumerStuckAfter = TimeSpan.FromSeconds(3)));
        var health = host.Services.GetRequiredService<HealthCheckService>();

        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 99)), Guid.NewGuid().ToString(), nameof(MovieStarted), partition: 0);
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 100)), Guid.NewGuid().ToString(), nameof(MovieStarted), partition: 0);

        // Partition 1 keeps finishing records the whole time.
        using var producing = new CancellationTokenSource();
        var sequence = 0;
        var steady = Task.Run(async () =>
        {
            while (!producing.IsCancellationRequested)
            {
                await harness.ProduceRawAsync("u2", InboxHarness.Serialize(new("u2", ++sequence)), Guid.NewGuid().ToString(), nameof(MovieStarted), partition: 1);
                await Task.Delay(200);
            }
        });

        HealthReportEntry stuck = default;
        try
        {
            await Eventually.TrueAsync(
                async () => (stuck = (await health.CheckHealthAsync()).Entries["outbox"]).Status == HealthStatus.Unhealthy,
                "the hanging partition makes the consumer unhealthy");
        }
        finally
        {
            await producing.CancelAsync();
            await steady;
        }

        Assert.Contains($"consumer group '{group}' has 2 record(s) waiting on {harness.MovieTopic}[0]", stuck.Description, StringComparison.Ordinal);
        Assert.DoesNotContain($"{harness.MovieTopic}[1]", stuck.Description, StringComparison.Ordinal);
        Assert.True((await harness.EffectsAsync()).Count(e => e.UserId == "u2") >= 3, "partition 1 progressed meanwhile");
    }

    [Fact]
    public async Task Parked_keys_make_the_consumer_degraded_and_show_in_the_parked_keys_gauges()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        var group = "parked-" + Guid.NewGuid().ToString("N")[..8];
        var host = await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1, configureServices: services =>
            services.AddHealthChecks().AddOutboxHealthChecks(o => o.ConsumerStuckAfter = TimeSpan.FromMinutes(5)));
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["outbox"].Status);

        await harness.ProduceAsync([new("u1", 1), new("u2", 1), new("u3", 1), new("u3", 2)]);
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 4, "every record is consumed");

        var entry = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains($"consumer group '{group}' has 3 parked key(s)", entry.Description, StringComparison.Ordinal);
        Assert.Equal(3, entry.Data[$"inbox.{group}.parked_keys"]);

        var keys = new List<int>();
        var ages = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name is "outbox.inbox.parked_keys" or "outbox.inbox.parked_keys.oldest_age")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            if (HasGroup(tags, group))
            {
                keys.Add(value);
            }
        });
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            if (HasGroup(tags, group))
            {
                ages.Add(value);
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal([3], keys);
        Assert.True(Assert.Single(ages) >= 0);
    }

    [Fact]
    public async Task The_read_ahead_stays_within_MaxBufferedBytes_plus_one_record()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var behavior = new HandlerBehavior { Delay = TimeSpan.FromMilliseconds(50) };
        var group = "bytes-" + Guid.NewGuid().ToString("N")[..8];
        const long budget = 600_000;
        var host = await harness.StartConsumerAsync(group, behavior, options: o => o.MaxBufferedBytes = budget);

        // 16 records of about 200 kB: 3.2 MB, more than five times the budget.
        var ids = harness.ProduceMany(Enumerable.Range(1, 16).Select(i => new MovieStarted("u" + (i % 4), i, new string('x', 200_000))));
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == ids.Count, "every record took effect");

        var consumer = host.Services.GetServices<IHostedService>().OfType<InboxConsumerHost>().Single();
        var largest = InboxHarness.Serialize(new MovieStarted("u0", 16, new string('x', 200_000))).Length + 200;
        output.WriteLine($"peak read-ahead: {consumer.PeakBufferedBytes} bytes (budget {budget}, largest record about {largest})");
        Assert.True(consumer.PeakBufferedBytes > 0);
        Assert.True(consumer.PeakBufferedBytes <= budget + largest, $"The read-ahead peaked at {consumer.PeakBufferedBytes} bytes.");
    }

    private static bool HasGroup(ReadOnlySpan<KeyValuePair<string, object?>> tags, string group)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "messaging.consumer.group.name" && (string?)tag.Value == group)
            {
                return true;
            }
        }

        return false;
    }
}
