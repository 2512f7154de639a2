using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Cdc;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The CDC relay's engine without its hosted service: the container builds it, and a test drives one iteration
/// (<see cref="CdcRelay.RunOnceAsync"/>) and ends it with the stopping token.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CdcRelayEngineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_iteration_publishes_the_backlog_then_streams_until_stopped()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        await harness.WriteAsync(6, keys: 3);
        using var host = harness.BuildRelayHost("engine");
        var relay = host.Services.GetRequiredService<CdcRelay>();
        Assert.Same(relay, host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<CdcRelayService>().Single().Relay);

        await relay.CheckAtStartAsync(CancellationToken.None);
        using var stopping = new CancellationTokenSource();
        var iteration = relay.RunOnceAsync(stopping.Token);
        await harness.WaitAsync(() => relay.Monitor.State == CdcRelayState.Streaming, "the iteration streams from its slot");
        await harness.WriteAsync(6, keys: 3);
        await harness.WaitAsync(() => relay.Monitor.PublishedCount >= 12, "the backlog and the streamed rows are published");

        await stopping.CancelAsync();
        Assert.Equal(TimeSpan.Zero, await iteration);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
    }
}
