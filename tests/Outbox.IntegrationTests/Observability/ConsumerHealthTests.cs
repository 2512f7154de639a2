using Xunit.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.IntegrationTests.Inbox;
using Outbox.IntegrationTests.Infrastructure;

namespace Outbox.IntegrationTests.Observability;

/// <summary>"Consumer not stuck": records waiting with none finished for the threshold is Unhealthy; progress heals it.</summary>
public sealed class ConsumerHealthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_consumer_whose_handler_hangs_is_reported_stuck_and_healthy_again_once_it_finishes()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var behavior = new HandlerBehavior { Delay = TimeSpan.FromSeconds(6) };
        var group = "stuck-" + Guid.NewGuid().ToString("N")[..8];
        var host = await harness.StartConsumerAsync(group, behavior, configureServices: services =>
            services.AddHealthChecks().AddOutboxHealthChecks(o => o.ConsumerStuckAfter = TimeSpan.FromSeconds(1)));
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var idle = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Healthy, idle.Status);

        await harness.ProduceAsync([new MovieStarted("u1", 1)]);

        HealthReportEntry stuck = default;
        await Eventually.TrueAsync(
            async () => (stuck = (await health.CheckHealthAsync()).Entries["outbox"]).Status == HealthStatus.Unhealthy,
            "the hanging handler makes the consumer group stuck");
        Assert.Contains($"consumer group '{group}' has 1 record(s) waiting", stuck.Description, StringComparison.Ordinal);

        await Eventually.TrueAsync(
            async () => (await health.CheckHealthAsync()).Entries["outbox"].Status == HealthStatus.Healthy,
            "the handler finished and the group made progress");
        Assert.Single(await harness.EffectsAsync());
        await harness.StopAsync(host);
    }
}
