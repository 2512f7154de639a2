namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>cdc-relay --cs CS --bootstrap SERVERS --name NAME [--parent PID]</c>: one CDC relay; with two of them, one streams
/// the slot and the other waits as a standby.
/// </summary>
public static class CdcRelayRole
{
    public const string SlotName = "chaos_cdc";

    public static Task<int> RunAsync(RoleArguments args) =>
        RoleHost.RunRelayAsync(args, (outbox, _) => outbox.AddCdcRelay(o =>
        {
            o.SlotName = SlotName;
            o.StandbyPollInterval = TimeSpan.FromMilliseconds(250);
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
            o.MaxRetryDelay = TimeSpan.FromSeconds(5);
        }));
}
