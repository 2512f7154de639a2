using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

public sealed class CdcRelayOptionsValidatorTests
{
    [Fact]
    public void The_default_byte_budget_is_64_MiB_and_valid()
    {
        var options = new CdcRelayOptions();
        Assert.Equal(64L * 1024 * 1024, options.MaxBytesInFlight);
        Assert.True(new CdcRelayOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(65_535L)]
    public void A_byte_budget_below_64_KiB_fails_naming_the_option(long bytes)
    {
        var result = new CdcRelayOptionsValidator().Validate(null, new CdcRelayOptions { MaxBytesInFlight = bytes });
        Assert.True(result.Failed);
        Assert.Contains("MaxBytesInFlight", result.FailureMessage, StringComparison.Ordinal);
    }
}
