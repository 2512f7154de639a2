using Outbox.ChaosTests.Orchestration;

namespace Outbox.ChaosTests.Chaos;

public sealed class ChaosSettingsTests
{
    [Fact]
    public void Both_relays_share_the_fault_time_two_thirds_to_one_third()
    {
        var settings = ChaosSettings.Parse(["--seconds", "60", "--seed", "5"]);

        Assert.Equal(5, settings.Seed);
        Assert.Equal([RelayKind.Polling, RelayKind.Cdc], settings.Relays);
        Assert.Equal(TimeSpan.FromSeconds(40), settings.FaultTimeOf(RelayKind.Polling));
        Assert.Equal(TimeSpan.FromSeconds(20), settings.FaultTimeOf(RelayKind.Cdc));
    }

    [Fact]
    public void One_relay_gets_all_of_it()
    {
        var settings = ChaosSettings.Parse(["--minutes", "10", "--relay", "cdc", "--faults", "kill-relay,brokers-down"]);

        Assert.Equal(TimeSpan.FromMinutes(10), settings.FaultTimeOf(RelayKind.Cdc));
        Assert.Equal([FaultKind.KillRelay, FaultKind.BrokersDown], settings.FaultKinds);
    }

    [Theory]
    [InlineData("--seconds", "0")]
    [InlineData("--seconds", "-5")]
    [InlineData("--seconds", "20")]
    [InlineData("--relay", "debezium")]
    [InlineData("--faults", "kill-everything")]
    [InlineData("--bogus", "1")]
    public void Bad_options_are_usage_errors(string name, string value) =>
        Assert.Throws<UsageException>(() => ChaosSettings.Parse([name, value]));
}
