using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;

namespace Outbox.PostgreSql.Tests.Relay;

/// <summary>One relay mode per process, decided in one place and refused at the second call whichever comes first.</summary>
public sealed class RelayModeRegistrationTests
{
    private static readonly Dictionary<string, Action<IOutboxBuilder>> Calls = new(StringComparer.Ordinal)
    {
        ["AddPollingRelay()"] = b => b.AddPollingRelay(),
        ["AddCdcRelay()"] = b => b.AddCdcRelay(),
        ["UseDebezium()"] = b => b.UseDebezium(),
    };

    public static TheoryData<string, string> Pairs => new()
    {
        { "AddPollingRelay()", "AddCdcRelay()" },
        { "AddCdcRelay()", "AddPollingRelay()" },
        { "AddPollingRelay()", "UseDebezium()" },
        { "UseDebezium()", "AddPollingRelay()" },
        { "AddCdcRelay()", "UseDebezium()" },
        { "UseDebezium()", "AddCdcRelay()" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Two_relay_modes_in_one_process_are_refused_naming_both_calls(string first, string second)
    {
        var outbox = new ServiceCollection().AddOutbox().UsePostgreSql("Host=127.0.0.1;Database=unused");
        Calls[first](outbox);
        var error = Assert.Throws<OutboxConfigurationException>(() => Calls[second](outbox));
        Assert.Contains(first, error.Message, StringComparison.Ordinal);
        Assert.Contains(second, error.Message, StringComparison.Ordinal);
        Assert.Contains("twice", error.Message, StringComparison.Ordinal);

        // The same message whichever comes first.
        var reversed = new ServiceCollection().AddOutbox().UsePostgreSql("Host=127.0.0.1;Database=unused");
        Calls[second](reversed);
        Assert.Equal(error.Message, Assert.Throws<OutboxConfigurationException>(() => Calls[first](reversed)).Message);
    }

    [Theory]
    [InlineData("AddPollingRelay()", nameof(RelayMode.Polling))]
    [InlineData("AddCdcRelay()", nameof(RelayMode.Cdc))]
    [InlineData("UseDebezium()", nameof(RelayMode.Debezium))]
    public void One_mode_registered_twice_is_harmless_and_registered_once(string call, string mode)
    {
        var services = new ServiceCollection();
        var outbox = services.AddOutbox();
        Calls[call](outbox);
        Calls[call](outbox);
        var registration = Assert.Single(services.Where(d => d.ServiceType == typeof(RelayModeRegistration)).Select(d => d.ImplementationInstance).OfType<RelayModeRegistration>());
        Assert.Equal(Enum.Parse<RelayMode>(mode), registration.Mode);
    }
}
