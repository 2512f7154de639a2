namespace Outbox.Relay;

/// <summary>The result of a heartbeat: the leases still held and how many relay instances are alive.</summary>
/// <param name="Held">The leases renewed (a subset of those asked for: the others were taken over).</param>
/// <param name="LiveInstances">Live relay instances, this one included.</param>
internal sealed record LeaseRenewal(IReadOnlyList<LaneLease> Held, int LiveInstances);
