using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

public sealed class CdcRelayOptionsRulesValidatorTests
{
    [Theory]
    [InlineData("outbox_cdc")]
    [InlineData("a")]
    [InlineData("slot_2024_x")]
    public void Valid_slot_names_pass(string slotName)
    {
        var result = new CdcRelayOptionsRulesValidator().Validate(null, new CdcRelayOptions { SlotName = slotName });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("Outbox")]
    [InlineData("out-box")]
    [InlineData("out box")]
    [InlineData("")]
    [InlineData("x\"; DROP TABLE t; --")]
    public void Invalid_slot_names_fail_naming_the_option(string slotName)
    {
        var result = new CdcRelayOptionsRulesValidator().Validate(null, new CdcRelayOptions { SlotName = slotName });
        Assert.True(result.Failed);
        Assert.Contains("CdcRelayOptions.SlotName", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_slot_name_longer_than_63_characters_fails()
    {
        var result = new CdcRelayOptionsRulesValidator().Validate(null, new CdcRelayOptions { SlotName = new string('s', 64) });
        Assert.True(result.Failed);
    }

    [Theory]
    [InlineData("1pub")]
    [InlineData("pub\"lic")]
    [InlineData("pub lic")]
    public void Invalid_publication_names_fail_naming_the_option(string publication)
    {
        var result = new CdcRelayOptionsRulesValidator().Validate(null, new CdcRelayOptions { PublicationName = publication });
        Assert.True(result.Failed);
        Assert.Contains("CdcRelayOptions.PublicationName", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_retry_ceiling_below_the_base_delay_fails()
    {
        var result = new CdcRelayOptionsRulesValidator().Validate(
            null, new CdcRelayOptions { InitialRetryDelay = TimeSpan.FromSeconds(10), MaxRetryDelay = TimeSpan.FromSeconds(1) });
        Assert.True(result.Failed);
        Assert.Contains("CdcRelayOptions.MaxRetryDelay", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_annotations_reject_out_of_range_values()
    {
        var result = new CdcRelayOptionsValidator().Validate(null, new CdcRelayOptions { MaxBatchSize = 0, AcknowledgeInterval = TimeSpan.Zero });
        Assert.True(result.Failed);
        Assert.Contains("MaxBatchSize", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("AcknowledgeInterval", result.FailureMessage, StringComparison.Ordinal);
    }
}
