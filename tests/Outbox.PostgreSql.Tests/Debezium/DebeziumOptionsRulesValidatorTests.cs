using Outbox.PostgreSql.Debezium;

namespace Outbox.PostgreSql.Tests.Debezium;

public sealed class DebeziumOptionsRulesValidatorTests
{
    [Fact]
    public void Valid_options_pass()
    {
        var result = new DebeziumOptionsRulesValidator().Validate(null, new DebeziumOptions { ConnectionString = "Host=h;Username=u;Database=d" });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Bad_names_and_a_missing_connection_string_fail_naming_each_option()
    {
        var result = new DebeziumOptionsRulesValidator().Validate(null, new DebeziumOptions { SlotName = "Slot-1", PublicationName = "1pub" });
        Assert.True(result.Failed);
        Assert.Contains("DebeziumOptions.SlotName", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("DebeziumOptions.PublicationName", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("DebeziumOptions.ConnectionString", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_string_without_database_or_user_fails()
    {
        var result = new DebeziumOptionsRulesValidator().Validate(null, new DebeziumOptions { ConnectionString = "Host=h" });
        Assert.True(result.Failed);
        Assert.Contains("Database", result.FailureMessage, StringComparison.Ordinal);
    }
}
