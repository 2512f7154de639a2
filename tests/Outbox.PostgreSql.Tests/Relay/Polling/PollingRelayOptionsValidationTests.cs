using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Polling;

public sealed class PollingRelayOptionsValidationTests
{
    [Fact]
    public void The_defaults_are_valid()
    {
        var options = new PollingRelayOptions();
        Assert.True(new PollingRelayOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(new PollingRelayOptionsRulesValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void By_default_32_lanes_are_in_flight_in_two_drain_cycles_of_16_and_a_lane_batch_gets_2_MiB()
    {
        var options = new PollingRelayOptions();
        Assert.Equal(32, options.MaxConcurrentLanes);
        Assert.Equal(2, PollingRelayHostedService.DrainCycles(options));
        Assert.Equal(16, PollingRelayHostedService.LanesPerCycle(options));
        Assert.Equal(2L * 1024 * 1024, options.MaxBytesInFlight / options.MaxConcurrentLanes);
    }

    [Fact]
    public void A_lease_not_longer_than_the_heartbeat_fails_naming_both_settings()
    {
        var result = new PollingRelayOptionsRulesValidator().Validate(null, new PollingRelayOptions
        {
            LeaseDuration = TimeSpan.FromSeconds(5),
            HeartbeatInterval = TimeSpan.FromSeconds(5),
        });
        Assert.True(result.Failed);
        Assert.Contains("PollingRelayOptions.LeaseDuration", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("PollingRelayOptions.HeartbeatInterval", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Cross_field_rules_name_their_settings()
    {
        var result = new PollingRelayOptionsRulesValidator().Validate(null, new PollingRelayOptions
        {
            InitialRetryDelay = TimeSpan.FromMinutes(10),
            MaxRetryDelay = TimeSpan.FromMinutes(1),
            PublishedRetention = TimeSpan.Zero,
            InstanceId = " ",
        });
        Assert.Contains("PollingRelayOptions.MaxRetryDelay", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("PollingRelayOptions.PublishedRetention", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("PollingRelayOptions.InstanceId", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(PollingRelayOptions.MaxBatchSize))]
    [InlineData(nameof(PollingRelayOptions.MaxConcurrentLanes))]
    [InlineData(nameof(PollingRelayOptions.MaxAttempts))]
    [InlineData(nameof(PollingRelayOptions.PollInterval))]
    [InlineData(nameof(PollingRelayOptions.LeaseDuration))]
    [InlineData(nameof(PollingRelayOptions.HeartbeatInterval))]
    public void Ranges_are_checked_and_the_message_names_the_setting(string setting)
    {
        var options = new PollingRelayOptions();
        switch (setting)
        {
            case nameof(PollingRelayOptions.MaxBatchSize):
                options.MaxBatchSize = 0;
                break;
            case nameof(PollingRelayOptions.MaxConcurrentLanes):
                options.MaxConcurrentLanes = 0;
                break;
            case nameof(PollingRelayOptions.MaxAttempts):
                options.MaxAttempts = 0;
                break;
            case nameof(PollingRelayOptions.PollInterval):
                options.PollInterval = TimeSpan.Zero;
                break;
            case nameof(PollingRelayOptions.LeaseDuration):
                options.LeaseDuration = TimeSpan.FromSeconds(-1);
                break;
            case nameof(PollingRelayOptions.HeartbeatInterval):
                options.HeartbeatInterval = TimeSpan.Zero;
                break;
        }

        var result = new PollingRelayOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(setting, result.FailureMessage, StringComparison.Ordinal);
    }
}
