using Microsoft.Extensions.DependencyInjection;

namespace Outbox.PostgreSql;

/// <summary>
/// The one place that decides how this process relays the outbox: <c>AddPollingRelay()</c>, <c>AddCdcRelay()</c> and
/// <c>UseDebezium()</c> each register their mode here, and a second, different mode is refused at once, whichever call
/// comes first (every pair would publish each event twice). The schema variant follows from the mode: the commit-order
/// trigger unless the mode reads commit order from the WAL.
/// </summary>
internal sealed class RelayModeRegistration
{
    private RelayModeRegistration(RelayMode mode) => Mode = mode;

    /// <summary>Gets the process's relay mode.</summary>
    public RelayMode Mode { get; }

    /// <summary>Gets the schema variant the mode needs.</summary>
    public OutboxCommitOrder CommitOrder => CommitOrderOf(this);

    /// <summary>The schema variant for a process with <paramref name="registration"/> (none: no relay in the process, the default schema).</summary>
    public static OutboxCommitOrder CommitOrderOf(RelayModeRegistration? registration) =>
        registration is { Mode: RelayMode.Cdc or RelayMode.Debezium } ? OutboxCommitOrder.WriteAheadLog : OutboxCommitOrder.Trigger;

    /// <summary>Records <paramref name="mode"/> for the process; registering the same mode again is harmless.</summary>
    /// <exception cref="OutboxConfigurationException">Another mode is registered: the message names both calls.</exception>
    public static void Register(IServiceCollection services, RelayMode mode)
    {
        ArgumentNullException.ThrowIfNull(services);
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(RelayModeRegistration))?.ImplementationInstance as RelayModeRegistration;
        if (existing is null)
        {
            services.AddSingleton(new RelayModeRegistration(mode));
            return;
        }

        if (existing.Mode != mode)
        {
            throw new OutboxConfigurationException(ConflictMessage(existing.Mode, mode));
        }
    }

    /// <summary>The refusal of two modes in one process; the same whichever was registered first.</summary>
    public static string ConflictMessage(RelayMode first, RelayMode second) => (first, second) switch
    {
        (RelayMode.Cdc, RelayMode.Debezium) or (RelayMode.Debezium, RelayMode.Cdc) =>
            "UseDebezium() and AddCdcRelay() are both registered: Debezium relays the outbox outside the process, so a CDC relay would publish every event twice. Choose one.",
        (RelayMode.Polling, RelayMode.Cdc) or (RelayMode.Cdc, RelayMode.Polling) =>
            "AddPollingRelay() and AddCdcRelay() are both registered: each relay would publish every event, so every event would be published twice, " +
            "and the polling relay needs the commit-order trigger that the CDC relay's schema leaves out. Choose one relay per process " +
            "(to switch a running system from one to the other, see docs/relay-cdc.md).",
        (RelayMode.Polling, RelayMode.Debezium) or (RelayMode.Debezium, RelayMode.Polling) =>
            "AddPollingRelay() and UseDebezium() are both registered: Debezium relays the outbox outside the process, so the polling relay would publish every event twice. Choose one.",
        _ => throw new ArgumentOutOfRangeException(nameof(second), second, "The modes are the same."),
    };
}
