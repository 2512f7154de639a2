using Outbox.PostgreSql.Debezium;

namespace Outbox.PostgreSql.Tests.DependencyInjection;

public sealed class ConnectionStringCheckTests
{
    private const string Password = "s3cret-pw";

    public static TheoryData<string> Malformed() => new()
    {
        $"Host=h;Port=notaport;Username=u;Password={Password}",
        $"Host=h;Username=u;Password={Password};garbage",
        $"Host=h;Password={Password};Pasword={Password}",
        $"Host=h;Password={Password};Timeout=-5",
        $"Host=h;Pwd = {Password} ;Port=x",
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_connection_string_fails_naming_the_option_and_never_the_password(string connectionString)
    {
        var store = new PostgreSqlOutboxOptionsRulesValidator().Validate(null, new PostgreSqlOutboxOptions { ConnectionString = connectionString });
        var debezium = new DebeziumOptionsRulesValidator().Validate(null, new DebeziumOptions { ConnectionString = connectionString });

        Assert.True(store.Failed);
        Assert.Contains("PostgreSqlOutboxOptions.ConnectionString", store.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, store.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("DebeziumOptions.ConnectionString", debezium.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, debezium.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_valid_connection_string_passes() =>
        Assert.True(new PostgreSqlOutboxOptionsRulesValidator().Validate(null, new PostgreSqlOutboxOptions { ConnectionString = $"Host=h;Port=5432;Username=u;Password={Password};Database=d" }).Succeeded);
}
