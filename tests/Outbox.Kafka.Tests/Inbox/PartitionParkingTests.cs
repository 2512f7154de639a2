using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Inbox;

public sealed class PartitionParkingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Keys_that_hold_are_parked_and_records_without_a_key_never_are()
    {
        var parking = new PartitionParking([new InboxParkedKey("a"u8.ToArray(), T0, Holds: true), new InboxParkedKey("b"u8.ToArray(), T0, Holds: false), new InboxParkedKey(null, T0, Holds: true)]);

        Assert.True(parking.IsParked("a"u8.ToArray()));
        Assert.False(parking.IsParked("b"u8.ToArray()));
        Assert.False(parking.IsParked(null));
        Assert.Equal(1, parking.Count);
        Assert.True(parking.HasRows);

        parking.Park(null, T0);
        Assert.Equal(1, parking.Count);
    }

    [Fact]
    public void Park_release_and_reset_track_the_count_and_the_oldest()
    {
        var parking = new PartitionParking([]);
        Assert.False(parking.HasRows);
        Assert.Null(parking.OldestParkedAt);

        parking.Park("a"u8.ToArray(), T0.AddMinutes(5));
        parking.Park("b"u8.ToArray(), T0);
        Assert.True(parking.HasRows);
        Assert.Equal(2, parking.Count);
        Assert.Equal(T0, parking.OldestParkedAt);

        parking.Release("b"u8.ToArray());
        Assert.Equal(T0.AddMinutes(5), parking.OldestParkedAt);

        parking.Reset([]);
        Assert.Equal(0, parking.Count);
        Assert.False(parking.HasRows);
    }

    [Fact]
    public void A_key_parks_per_tenant_and_a_tenants_reset_leaves_the_others_keys()
    {
        var parking = new PartitionParking([]);
        parking.Park("t1", "a"u8.ToArray(), T0);
        Assert.True(parking.IsParked("t1", "a"u8.ToArray()));
        Assert.False(parking.IsParked("t2", "a"u8.ToArray()));
        Assert.False(parking.IsParked("a"u8.ToArray()));

        parking.Reset("t2", [new InboxParkedKey("b"u8.ToArray(), T0, Holds: true)]);
        Assert.True(parking.IsParked("t2", "b"u8.ToArray()));
        Assert.Equal(["t1", "t2"], parking.TenantsWithRows.Order());

        parking.Reset("t1", []);
        Assert.False(parking.IsParked("t1", "a"u8.ToArray()));
        Assert.True(parking.IsParked("t2", "b"u8.ToArray()));
        Assert.Equal(["t2"], parking.TenantsWithRows);
        Assert.True(parking.HasRows);

        parking.Reset("t2", []);
        Assert.False(parking.HasRows);
    }
}
