namespace Outbox.Testing.Tests;

public sealed class TestInfrastructureTests
{
    [Fact]
    public async Task Servers_are_unavailable_before_StartAsync_and_dispose_is_idempotent()
    {
        var infrastructure = new TestInfrastructure();

        Assert.Throws<InvalidOperationException>(() => infrastructure.Postgres);
        Assert.Throws<InvalidOperationException>(() => infrastructure.Kafka);
        await infrastructure.DisposeAsync();
        await infrastructure.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => infrastructure.StartAsync());
    }

    [Fact]
    public async Task StartAsync_starts_both_and_DisposeAsync_stops_both()
    {
        var infrastructure = new TestInfrastructure(
            new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster },
            new KafkaServerOptions { Kind = KafkaServerKind.Embedded, Brokers = 1 });
        await infrastructure.StartAsync();
        var directory = infrastructure.Postgres.Cluster!.RootDirectory;

        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(infrastructure.Postgres.ConnectionString, "SELECT 1"));
        Assert.Equal(1, infrastructure.Kafka.Brokers);
        await Assert.ThrowsAsync<InvalidOperationException>(() => infrastructure.StartAsync());

        await infrastructure.DisposeAsync();
        Assert.False(Directory.Exists(directory));
        Assert.Throws<ObjectDisposedException>(() => infrastructure.Kafka.SetBrokerDown(1));
    }
}
