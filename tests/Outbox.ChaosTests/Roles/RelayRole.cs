namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>relay --cs CS --bootstrap SERVERS --name NAME [--parent PID]</c>: one polling relay instance. Lease times are
/// short so that a killed instance's lanes move within seconds; everything else is the library's default.
/// </summary>
public static class RelayRole
{
    /// <summary>The lease of every polling relay role (the pause fault outlasts it).</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(4);

    public static Task<int> RunAsync(RoleArguments args) =>
        RoleHost.RunRelayAsync(args, (outbox, name) => outbox.AddPollingRelay(o =>
        {
            o.InstanceId = name + "-" + Environment.ProcessId;
            o.LeaseDuration = LeaseDuration;
            o.HeartbeatInterval = TimeSpan.FromSeconds(1);
            o.PollInterval = TimeSpan.FromMilliseconds(250);
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
            o.MaxRetryDelay = TimeSpan.FromSeconds(5);
        }));
}
