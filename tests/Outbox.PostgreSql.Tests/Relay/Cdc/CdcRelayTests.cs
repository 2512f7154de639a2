using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

/// <summary>
/// The CDC relay's decisions with a fake <see cref="ICdcReplication"/>: what an iteration's outcome makes of the relay's
/// state and of the wait before the next one (stand by, fault, retry with backoff, afresh after progress), and what the
/// checks at host start do with each failure. The integration tests (tests/Outbox.IntegrationTests/Cdc) check the same
/// against PostgreSQL; these run in milliseconds.
/// </summary>
public sealed class CdcRelayTests
{
    private readonly FakeReplication _replication = new();
    private readonly CdcRelayOptions _options = new()
    {
        InitialRetryDelay = TimeSpan.FromSeconds(1),
        MaxRetryDelay = TimeSpan.FromSeconds(10),
        StandbyPollInterval = TimeSpan.FromSeconds(7),
    };

    [Fact]
    public async Task Streaming_until_stopped_reports_streaming_and_asks_for_no_wait()
    {
        var relay = CreateRelay();
        _replication.Next = streaming =>
        {
            streaming();
            Assert.Equal(CdcRelayState.Streaming, relay.Monitor.State);
            return Task.CompletedTask;
        };

        Assert.Equal(TimeSpan.Zero, await relay.RunOnceAsync(CancellationToken.None));
        Assert.Equal(CdcRelayState.Streaming, relay.Monitor.State);
    }

    [Fact]
    public async Task A_stop_during_an_iteration_is_not_a_failure()
    {
        var relay = CreateRelay();
        using var stop = new CancellationTokenSource();
        _replication.Next = _ =>
        {
            stop.Cancel();
            throw new OperationCanceledException(stop.Token);
        };

        Assert.Equal(TimeSpan.Zero, await relay.RunOnceAsync(stop.Token));
        Assert.Equal(CdcRelayState.Starting, relay.Monitor.State);
        Assert.Null(relay.Monitor.LastError);
    }

    [Fact]
    public async Task A_slot_streamed_by_another_instance_makes_a_standby_that_polls_at_the_standby_interval_and_forgets_earlier_failures()
    {
        var relay = CreateRelay();
        _replication.Next = _ => throw new IOException("broken");
        Assert.Equal(TimeSpan.FromSeconds(1), await relay.RunOnceAsync(CancellationToken.None));
        Assert.Equal(TimeSpan.FromSeconds(2), await relay.RunOnceAsync(CancellationToken.None));

        _replication.Next = _ => throw new CdcSlotBusyException("Replication slot 's' is streamed by server process 42.");
        Assert.Equal(_options.StandbyPollInterval, await relay.RunOnceAsync(CancellationToken.None));
        Assert.Equal(CdcRelayState.Standby, relay.Monitor.State);
        Assert.Contains("server process 42", relay.Monitor.LastError, StringComparison.Ordinal);

        // Taking over later and failing: the backoff starts again from the first delay.
        _replication.Next = _ => throw new IOException("broken");
        Assert.Equal(TimeSpan.FromSeconds(1), await relay.RunOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Failures_are_retried_with_a_doubling_backoff_up_to_the_cap_and_report_retrying_with_the_error()
    {
        var relay = CreateRelay();
        _replication.Next = _ => throw new IOException("connection reset");

        var delays = new List<TimeSpan>();
        for (var i = 0; i < 6; i++)
        {
            delays.Add(await relay.RunOnceAsync(CancellationToken.None));
        }

        Assert.Equal([1, 2, 4, 8, 10, 10], delays.Select(d => d.TotalSeconds));
        Assert.Equal(CdcRelayState.Retrying, relay.Monitor.State);
        Assert.Equal("connection reset", relay.Monitor.LastError);
        Assert.Equal(6, _replication.LostSlotChecks);
    }

    [Fact]
    public async Task An_iteration_that_published_something_before_failing_starts_the_backoff_afresh()
    {
        var relay = CreateRelay();
        _replication.Next = _ => throw new IOException("broken");
        await relay.RunOnceAsync(CancellationToken.None);
        await relay.RunOnceAsync(CancellationToken.None);
        Assert.Equal(TimeSpan.FromSeconds(4), await relay.RunOnceAsync(CancellationToken.None));

        _replication.Next = _ =>
        {
            _replication.MadeProgress = true;
            throw new IOException("broken after progress");
        };
        Assert.Equal(TimeSpan.FromSeconds(1), await relay.RunOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_broken_stream_whose_slot_the_server_invalidated_faults_the_relay_instead_of_retrying()
    {
        var relay = CreateRelay();
        _replication.Next = _ => throw new IOException("stream ended");
        _replication.LostReason = "Replication slot 's' was invalidated (wal_removed).";

        await relay.RunOnceAsync(CancellationToken.None);

        Assert.Equal(CdcRelayState.Faulted, relay.Monitor.State);
        Assert.Equal(_replication.LostReason, relay.Monitor.LastError);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_lost_slot_or_a_bad_setting_found_during_an_iteration_faults_the_relay_and_keeps_backing_off(bool lostSlot)
    {
        var relay = CreateRelay();
        Exception error = lostSlot
            ? new CdcSlotLostException("Replication slot 's' is lost.")
            : new OutboxConfigurationException("wal_level is replica; the CDC relay needs logical.");
        _replication.Next = _ => throw error;

        Assert.Equal(TimeSpan.FromSeconds(1), await relay.RunOnceAsync(CancellationToken.None));
        Assert.Equal(TimeSpan.FromSeconds(2), await relay.RunOnceAsync(CancellationToken.None));
        Assert.Equal(CdcRelayState.Faulted, relay.Monitor.State);
        Assert.Equal(error.Message, relay.Monitor.LastError);
        Assert.Equal(0, _replication.LostSlotChecks);
    }

    [Fact]
    public async Task At_host_start_a_bad_setting_faults_the_relay_and_fails_the_start()
    {
        var relay = CreateRelay();
        _replication.Check = () => throw new OutboxConfigurationException("max_replication_slots is 0 (CdcRelayOptions.SlotName needs one).");

        var ex = await Assert.ThrowsAsync<OutboxConfigurationException>(() => relay.CheckAtStartAsync(CancellationToken.None));

        Assert.Equal(CdcRelayState.Faulted, relay.Monitor.State);
        Assert.Equal(ex.Message, relay.Monitor.LastError);
    }

    [Fact]
    public async Task At_host_start_a_lost_slot_faults_the_relay_without_failing_the_start()
    {
        var relay = CreateRelay();
        _replication.Check = () => throw new CdcSlotLostException("Replication slot 's' is lost.");

        await relay.CheckAtStartAsync(CancellationToken.None);

        Assert.Equal(CdcRelayState.Faulted, relay.Monitor.State);
    }

    [Fact]
    public async Task At_host_start_an_unreachable_server_defers_the_checks_to_the_first_iteration()
    {
        var relay = CreateRelay();
        _replication.Check = () => throw new NpgsqlException("Failed to connect to 127.0.0.1:5432");

        await relay.CheckAtStartAsync(CancellationToken.None);

        Assert.Equal(CdcRelayState.Starting, relay.Monitor.State);
        Assert.Null(relay.Monitor.LastError);
    }

    [Fact]
    public async Task At_host_start_any_other_error_fails_the_start()
    {
        var relay = CreateRelay();
        _replication.Check = () => throw new InvalidOperationException("unexpected");

        await Assert.ThrowsAsync<InvalidOperationException>(() => relay.CheckAtStartAsync(CancellationToken.None));
    }

    private CdcRelay CreateRelay() =>
        new(_replication, _options, new CdcRelayMonitor(() => throw new InvalidOperationException("no store in unit tests"), () => 0), NullLogger.Instance);

    private sealed class FakeReplication : ICdcReplication
    {
        public Func<Action, Task> Next { get; set; } = _ => Task.CompletedTask;

        public Action Check { get; set; } = () => { };

        public string? LostReason { get; set; }

        public int LostSlotChecks { get; private set; }

        public bool MadeProgress { get; set; }

        public CdcProgress? SessionProgress => null;

        public (long Now, long Peak)? SessionBytesInFlight => null;

        public Task CheckAsync(CancellationToken cancellationToken)
        {
            Check();
            return Task.CompletedTask;
        }

        public Task SetUpAndStreamAsync(Action streaming, CancellationToken cancellationToken)
        {
            MadeProgress = false;
            return Next(streaming);
        }

        public Task<string?> LostSlotAsync(CancellationToken cancellationToken)
        {
            LostSlotChecks++;
            return Task.FromResult(LostReason);
        }
    }
}
