using Outbox.ChaosTests.Orchestration;
using Outbox.ChaosTests.Roles;

namespace Outbox.ChaosTests.Chaos;

public sealed class FaultPlanTests
{
    [Theory]
    [InlineData(RelayKind.Polling, 40)]
    [InlineData(RelayKind.Cdc, 20)]
    [InlineData(RelayKind.Polling, 600)]
    public void The_same_seed_gives_the_same_plan_and_another_seed_another(RelayKind relay, int seconds)
    {
        var a = FaultPlan.Create(1234, relay, TimeSpan.FromSeconds(seconds), 3, 2, 3);
        var b = FaultPlan.Create(1234, relay, TimeSpan.FromSeconds(seconds), 3, 2, 3);
        var c = FaultPlan.Create(1235, relay, TimeSpan.FromSeconds(seconds), 3, 2, 3);

        Assert.Equal(a.Actions.Select(x => x.ToString()), b.Actions.Select(x => x.ToString()));
        Assert.NotEqual(a.Actions.Select(x => x.ToString()), c.Actions.Select(x => x.ToString()));
    }

    [Theory]
    [InlineData(RelayKind.Polling, 40)]
    [InlineData(RelayKind.Cdc, 20)]
    public void A_short_run_still_gets_every_kind_of_fault(RelayKind relay, int seconds)
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var plan = FaultPlan.Create(seed, relay, TimeSpan.FromSeconds(seconds), 3, 2, 3);
            Assert.Equal(FaultPlan.KindsOf(relay).Order(), plan.Faults.Select(f => f.Kind).Distinct().Order());
        }
    }

    [Fact]
    public void Every_kind_applies_to_polling_runs_and_every_kind_but_the_pause_to_CDC_runs()
    {
        Assert.Equal(Enum.GetValues<FaultKind>(), FaultPlan.KindsOf(RelayKind.Polling));
        Assert.Equal(Enum.GetValues<FaultKind>().Where(k => k != FaultKind.PauseRelay), FaultPlan.KindsOf(RelayKind.Cdc));
        Assert.Empty(FaultPlan.Create(7, RelayKind.Cdc, TimeSpan.FromSeconds(60), 3, 2, 3, [FaultKind.PauseRelay]).Faults);
    }

    [Fact]
    public void A_pause_outlasts_the_lease_and_one_relay_at_most_is_paused_at_a_time()
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var plan = FaultPlan.Create(seed, RelayKind.Polling, TimeSpan.FromMinutes(10), 3, 2, 3);
            var pauses = plan.Faults.Where(f => f.Kind == FaultKind.PauseRelay).ToList();
            Assert.NotEmpty(pauses);
            TimeSpan? previousEnd = null;
            foreach (var pause in pauses)
            {
                Assert.Equal([FaultActionKind.PauseRelay, FaultActionKind.ResumeRelay], pause.Actions.Select(a => a.Kind));
                Assert.Equal(pause.Actions[0].Target, pause.Actions[1].Target);
                Assert.InRange(pause.Actions[0].Target, 1, 3);
                Assert.True(pause.Actions[1].At - pause.Actions[0].At >= RelayRole.LeaseDuration + FaultPlan.PauseBeyondLease - TimeSpan.FromSeconds(0.01), $"seed {seed}: fault {pause.Number} is shorter than the lease");
                Assert.True(previousEnd is null || pause.At > previousEnd, $"seed {seed}: fault {pause.Number} pauses a relay while another is paused");
                previousEnd = pause.Actions[1].At;
            }
        }
    }

    [Fact]
    public void Run_seeds_are_the_same_in_every_process()
    {
        // HashCode is randomized per process; the plan seeds must not be, or "same seed, same faults" breaks.
        Assert.Equal(1_616_377_404, ChaosSettings.Mix(42, 1));
        Assert.Equal(new ChaosSettings { Seed = 42 }.SeedOf(RelayKind.Polling), ChaosSettings.Mix(42, 1));
    }

    [Theory]
    [InlineData(RelayKind.Polling)]
    [InlineData(RelayKind.Cdc)]
    public void Faults_never_overlap_in_ways_a_recovery_step_could_undo_twice(RelayKind relay)
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var plan = FaultPlan.Create(seed, relay, TimeSpan.FromMinutes(10), 3, 2, 3);
            var down = new Dictionary<string, bool>();
            foreach (var action in plan.Actions)
            {
                var (key, goesDown) = action.Kind switch
                {
                    FaultActionKind.KillRelay => ("relay" + action.Target, true),
                    FaultActionKind.StartRelay => ("relay" + action.Target, false),
                    FaultActionKind.PauseRelay => ("relay" + action.Target, true),
                    FaultActionKind.ResumeRelay => ("relay" + action.Target, false),
                    FaultActionKind.KillConsumer => ("consumer" + action.Target, true),
                    FaultActionKind.StartConsumer => ("consumer" + action.Target, false),
                    FaultActionKind.BrokersDown => ("brokers", true),
                    FaultActionKind.BrokersUp => ("brokers", false),
                    FaultActionKind.SetRtt => ("rtt", true),
                    FaultActionKind.ClearRtt => ("rtt", false),
                    _ => ("", false),
                };
                if (key.Length == 0)
                {
                    continue;
                }

                Assert.True(down.GetValueOrDefault(key) != goesDown, $"seed {seed}: {action} while {key} is already {(goesDown ? "down" : "up")}");
                down[key] = goesDown;
            }

            Assert.DoesNotContain(true, down.Values);
            Assert.All(plan.Actions, a => Assert.True(a.At < plan.Duration + TimeSpan.FromSeconds(9), $"seed {seed}: {a} ends after the fault time"));
        }
    }

    [Fact]
    public void The_allowed_kinds_narrow_the_plan()
    {
        var plan = FaultPlan.Create(7, RelayKind.Polling, TimeSpan.FromSeconds(60), 3, 2, 3, [FaultKind.BrokersDown, FaultKind.KillRelay]);
        Assert.NotEmpty(plan.Faults);
        Assert.All(plan.Faults, f => Assert.Contains(f.Kind, new[] { FaultKind.BrokersDown, FaultKind.KillRelay }));
    }
}
