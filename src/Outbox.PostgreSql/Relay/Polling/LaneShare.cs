namespace Outbox.Relay;

/// <summary>How many lanes one instance may hold: an even share, rounded up so that every lane has room somewhere.</summary>
internal static class LaneShare
{
    public static int Compute(int laneCount, int liveInstances) =>
        (laneCount + Math.Max(liveInstances, 1) - 1) / Math.Max(liveInstances, 1);
}
