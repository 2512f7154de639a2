using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Polling;

public sealed class LaneShareTests
{
    [Theory]
    [InlineData(64, 1, 64)]
    [InlineData(64, 3, 22)]
    [InlineData(64, 4, 16)]
    [InlineData(64, 5, 13)]
    [InlineData(64, 64, 1)]
    [InlineData(64, 100, 1)]
    [InlineData(1, 3, 1)]
    [InlineData(64, 0, 64)]
    public void The_share_is_an_even_split_rounded_up(int lanes, int instances, int share)
    {
        Assert.Equal(share, LaneShare.Compute(lanes, instances));
    }

    [Fact]
    public void The_shares_of_all_instances_always_cover_every_lane()
    {
        for (var lanes = 1; lanes <= 128; lanes++)
        {
            for (var instances = 1; instances <= 20; instances++)
            {
                Assert.True(LaneShare.Compute(lanes, instances) * instances >= lanes);
            }
        }
    }
}
