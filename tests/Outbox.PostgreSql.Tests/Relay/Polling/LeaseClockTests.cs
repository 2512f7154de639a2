using Microsoft.Extensions.Time.Testing;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Polling;

public sealed class LeaseClockTests
{
    [Fact]
    public void Leases_are_not_valid_before_the_first_renewal()
    {
        var clock = new LeaseClock(new FakeTimeProvider(), TimeSpan.FromSeconds(30));
        Assert.False(clock.IsValid);
    }

    [Fact]
    public void A_renewal_holds_for_nine_tenths_of_the_lease_counted_from_when_it_was_sent()
    {
        var time = new FakeTimeProvider();
        var clock = new LeaseClock(time, TimeSpan.FromSeconds(30));
        var sentAt = clock.Now();
        time.Advance(TimeSpan.FromSeconds(2)); // the round trip
        clock.Renewed(sentAt);

        time.Advance(TimeSpan.FromSeconds(24.9));
        Assert.True(clock.IsValid);
        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.False(clock.IsValid);

        var next = clock.Now();
        clock.Renewed(next);
        Assert.True(clock.IsValid);
    }

    [Fact]
    public void Lost_invalidates_at_once()
    {
        var time = new FakeTimeProvider();
        var clock = new LeaseClock(time, TimeSpan.FromSeconds(30));
        clock.Renewed(clock.Now());
        clock.Lost();
        Assert.False(clock.IsValid);
    }
}
