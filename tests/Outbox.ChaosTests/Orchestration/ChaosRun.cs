using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Roles;
using Outbox.PostgreSql;
using Outbox.Testing;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// One run: a fresh database and Kafka cluster, consumers and relays started as processes, then writers; the fault
/// plan while the writers write; then every fault healed, a bounded quiet period until everything is relayed and
/// handled, a graceful stop, and the checks.
/// </summary>
public sealed class ChaosRun
{
    // Generous: ten processes starting at once (mostly JIT) on a busy two-core machine took up to 130 s in measurements.
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(300);
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(60);

    private readonly ChaosSettings _settings;
    private readonly RelayKind _relay;
    private readonly PostgresServer _postgres;
    private readonly RunLog _log;
    private readonly int _seed;
    private readonly List<ChildProcess> _relays = [];
    private readonly List<ChildProcess> _consumers = [];
    private readonly List<ChildProcess> _writers = [];
    private readonly Dictionary<int, int> _resolvedTargets = [];
    private readonly Dictionary<FaultKind, int> _executed = [];
    private readonly List<string> _infrastructureErrors = [];
    private KafkaServer? _kafka;
    private NpgsqlDataSource? _database;
    private int _writerPausedSeconds;

    public ChaosRun(ChaosSettings settings, RelayKind relay, PostgresServer postgres, RunLog log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _relay = relay;
        _postgres = postgres;
        _log = log;
        _seed = settings.SeedOf(relay);
    }

    private string Name => _relay == RelayKind.Polling ? "polling" : "cdc";

    private IEnumerable<ChildProcess> Services => _relays.Concat(_consumers);

    public async Task<RunResult> RunAsync(CancellationToken cancellationToken)
    {
        var faultTime = _settings.FaultTimeOf(_relay);
        var relayCount = _relay == RelayKind.Polling ? _settings.PollingRelays : _settings.CdcRelays;
        var plan = FaultPlan.Create(_seed, _relay, faultTime, relayCount, _settings.Consumers, _settings.Brokers, _settings.FaultKinds);
        _log.Line($"{Name}: run seed {_seed}, {faultTime.TotalSeconds:0} s of faults, {plan.Faults.Count} faults planned:");
        foreach (var action in plan.Actions)
        {
            _log.Line($"{Name}:   {action}");
        }

        var runLog = _log.ForRun(Name);
        try
        {
            await PrepareAsync(runLog, relayCount, cancellationToken);
            await ExecutePlanAsync(plan, faultTime, cancellationToken);
            await HealAsync();
            var (drained, quiet) = await WaitQuietAsync(cancellationToken);
            await Task.WhenAll(Services.Select(p => p.StopAsync(ShutdownTimeout)));
            _log.Line($"{Name}: every process stopped; checking");
            return await CheckAsync(plan, drained, quiet, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _log.Line($"{Name}: the run failed: {ex}");
            _infrastructureErrors.Add(ex.GetType().Name + ": " + ex.Message);
            return new RunResult
            {
                Relay = _relay,
                Seed = _seed,
                Findings = new RunFindings(),
                InfrastructureErrors = _infrastructureErrors,
                Crashes = Services.Concat(_writers).SelectMany(p => p.Crashes).ToList(),
                Faults = new Dictionary<FaultKind, int>(_executed),
                PlannedFaults = plan.Faults.Count,
            };
        }
        finally
        {
            foreach (var process in Services.Concat(_writers))
            {
                process.Dispose();
            }

            if (_kafka is not null)
            {
                await _kafka.DisposeAsync();
            }

            if (_database is not null)
            {
                await _database.DisposeAsync();
            }

            runLog.Dispose();
        }
    }

    private async Task PrepareAsync(RunLog runLog, int relayCount, CancellationToken cancellationToken)
    {
        var connectionString = await _postgres.CreateDatabaseAsync("chaos_" + Name, cancellationToken);
        _database = NpgsqlDataSource.Create(connectionString);
        var outboxOptions = new OutboxOptions();
        ChaosEvent.Map(outboxOptions);
        await OutboxSchema.EnsureCreatedAsync(_database, outboxOptions, cancellationToken);
        await ChaosSchema.CreateAsync(_database, _settings.Writers, _settings.Keys, auditDeletes: true, cancellationToken);

        _kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = _settings.Brokers, Kind = KafkaServerKind.Embedded }, cancellationToken);
        _kafka.CreateTopic(ChaosEvent.Topic, _settings.Partitions);
        _log.Line($"{Name}: database ready, Kafka at {_kafka.BootstrapServers} with {_settings.Partitions} partitions; logs in {runLog.Directory}");

        string[] common = ["--cs", connectionString, "--bootstrap", _kafka.BootstrapServers];
        string[] consumerArguments = _settings.KafkaDebug is { } debug ? [.. common, "--kafka-debug", debug] : common;
        for (var i = 1; i <= _settings.Consumers; i++)
        {
            _consumers.Add(new ChildProcess(Invariant($"consumer-{i}"), "consumer", consumerArguments, runLog));
        }

        string[] relayArguments = _settings.RelayKafkaDebug is { } relayDebug ? [.. common, "--kafka-debug", relayDebug] : common;
        for (var i = 1; i <= relayCount; i++)
        {
            _relays.Add(_relay == RelayKind.Polling
                ? new ChildProcess(Invariant($"relay-{i}"), "relay", relayArguments, runLog)
                : new ChildProcess(Invariant($"cdc-{i}"), "cdc-relay", relayArguments, runLog));
        }

        for (var i = 1; i <= _settings.Writers; i++)
        {
            _writers.Add(new ChildProcess(Invariant($"writer-{i}"), "writer",
            [
                "--cs", connectionString, "--writer", Invariant($"{i}"), "--concurrency", Invariant($"{_settings.WriterConcurrency}"),
                "--keys", Invariant($"{_settings.Keys}"), "--delay-ms", Invariant($"{_settings.WriterDelayMilliseconds}"), "--seed", Invariant($"{_seed}"),
            ], runLog));
        }

        // All at once: their start-up (mostly JIT) overlaps. Writers say ready after a first transaction of each kind.
        var started = Stopwatch.StartNew();
        foreach (var process in Services.Concat(_writers))
        {
            process.Start();
        }

        await Task.WhenAll(Services.Concat(_writers).Select(p => p.WaitReadyAsync(ReadyTimeout)));
        _log.Line($"{Name}: {_consumers.Count} consumers, {_relays.Count} relays and {_writers.Count} writers ready in {started.Elapsed.TotalSeconds:0.0} s; faults start");
    }

    private async Task ExecutePlanAsync(FaultPlan plan, TimeSpan faultTime, CancellationToken cancellationToken)
    {
        var actions = plan.Actions.Append(new FaultAction(faultTime, FaultActionKind.StopWriters, 0)).OrderBy(a => a.At).ToList();
        var clock = Stopwatch.StartNew();
        using var progress = new CancellationTokenSource();
        var reporter = ReportProgressAsync(progress.Token);
        try
        {
            foreach (var action in actions)
            {
                var wait = action.At - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                try
                {
                    await ExecuteAsync(action, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _infrastructureErrors.Add($"{action}: {ex.GetType().Name}: {ex.Message}");
                    _log.Line($"{Name}: fault step '{action}' failed: {ex}");
                }
            }
        }
        finally
        {
            await progress.CancelAsync();
            await reporter;
        }
    }

    private async Task ExecuteAsync(FaultAction action, CancellationToken cancellationToken)
    {
        var kafka = _kafka!;
        string? note = null;
        switch (action.Kind)
        {
            case FaultActionKind.KillRelay:
            {
                var index = action.Target > 0 ? action.Target : await FindActiveCdcRelayAsync(cancellationToken);
                if (index is not { } target || !_relays[target - 1].IsRunning)
                {
                    note = "skipped: no such relay running";
                    break;
                }

                _resolvedTargets[action.Fault] = target;
                _relays[target - 1].Kill();
                Count(FaultKind.KillRelay);
                note = _relays[target - 1].Name;
                break;
            }

            case FaultActionKind.StartRelay:
            {
                var target = action.Target > 0 ? action.Target : _resolvedTargets.GetValueOrDefault(action.Fault);
                note = StartIfStopped(_relays, target);
                break;
            }

            case FaultActionKind.PauseRelay:
                if (!_relays[action.Target - 1].Pause())
                {
                    note = "skipped: not running";
                    break;
                }

                Count(FaultKind.PauseRelay);
                note = _relays[action.Target - 1].Name;
                break;
            case FaultActionKind.ResumeRelay:
                note = _relays[action.Target - 1].Resume() ? _relays[action.Target - 1].Name : "skipped: not paused";
                break;
            case FaultActionKind.KillConsumer:
                if (!_consumers[action.Target - 1].IsRunning)
                {
                    note = "skipped: not running";
                    break;
                }

                _consumers[action.Target - 1].Kill();
                Count(FaultKind.KillConsumer);
                break;
            case FaultActionKind.StartConsumer:
                note = StartIfStopped(_consumers, action.Target);
                break;
            case FaultActionKind.BrokersDown:
                kafka.SetAllBrokersDown();
                Count(FaultKind.BrokersDown);
                break;
            case FaultActionKind.BrokersUp:
                kafka.SetAllBrokersUp();
                break;
            case FaultActionKind.PostgresRestart:
            {
                var clock = Stopwatch.StartNew();
                await RestartPostgresAsync(cancellationToken);

                // The pool of this process's data source still holds connections the restart closed.
                _database!.Clear();
                Count(FaultKind.PostgresRestart);
                note = $"took {clock.Elapsed.TotalSeconds:0.0} s";
                break;
            }

            case FaultActionKind.ProduceErrors:
                kafka.PushRequestErrors(KafkaApiKey.Produce, [.. action.Errors!]);
                Count(FaultKind.ProduceErrors);
                break;
            case FaultActionKind.SetRtt:
                foreach (var broker in Brokers(action.Target))
                {
                    kafka.SetRtt(broker, TimeSpan.FromMilliseconds(action.Milliseconds));
                }

                Count(FaultKind.NetworkDelay);
                break;
            case FaultActionKind.ClearRtt:
                foreach (var broker in Brokers(action.Target))
                {
                    kafka.SetRtt(broker, TimeSpan.Zero);
                }

                break;
            case FaultActionKind.StopWriters:
                await Task.WhenAll(_writers.Select(w => w.StopAsync(ShutdownTimeout)));
                note = "writers stopped";
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action.Kind, null);
        }

        _log.Line($"{Name}: {action}{(note is null ? "" : " (" + note + ")")}");
    }

    /// <summary>
    /// The restart fault, tried again when <c>pg_ctl</c> itself fails or times out (a start that outlasts its time-out on
    /// a busy machine): a failed start stops what it left behind, so a second attempt starts clean. Three failures are
    /// an infrastructure error of the run.
    /// </summary>
    private async Task RestartPostgresAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _postgres.RestartAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is (InvalidOperationException and not ObjectDisposedException) or TimeoutException && attempt < 3)
            {
                _log.Line($"{Name}: PostgreSQL restart attempt {attempt} failed, trying again: {ex.Message}");
            }
        }
    }

    private static string StartIfStopped(List<ChildProcess> processes, int target)
    {
        if (target < 1 || target > processes.Count)
        {
            return "skipped: nothing was killed";
        }

        var process = processes[target - 1];
        if (process.IsRunning)
        {
            return "already running";
        }

        process.Start();
        return process.Name;
    }

    private IEnumerable<int> Brokers(int target) => target == 0 ? Enumerable.Range(1, _settings.Brokers) : [target];

    private void Count(FaultKind kind) => _executed[kind] = _executed.GetValueOrDefault(kind) + 1;

    /// <summary>The CDC relay whose connection streams the slot, by the application name its connections carry.</summary>
    private async Task<int?> FindActiveCdcRelayAsync(CancellationToken cancellationToken)
    {
        var name = await QueryAsync(
            async ct =>
            {
                await using var command = _database!.CreateCommand(
                    "SELECT a.application_name FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = $1");
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = CdcRelayRole.SlotName });
                return await command.ExecuteScalarAsync(ct) as string;
            },
            cancellationToken);
        var index = _relays.FindIndex(r => r.Name == name);
        return index < 0 ? null : index + 1;
    }

    private async Task HealAsync()
    {
        var kafka = _kafka!;
        kafka.SetAllBrokersUp();
        foreach (var broker in Brokers(0))
        {
            kafka.SetRtt(broker, TimeSpan.Zero);
        }

        kafka.ClearRequestErrors(KafkaApiKey.Produce);
        foreach (var process in Services.Where(p => p.IsPaused))
        {
            _log.Line($"{Name}: {process.Name} is paused after the faults: resuming it");
            process.Resume();
        }

        foreach (var process in Services.Where(p => !p.IsRunning))
        {
            _log.Line($"{Name}: {process.Name} is not running after the faults: starting it");
            process.Start();
        }

        await Task.WhenAll(Services.Select(p => p.WaitReadyAsync(ReadyTimeout)));
        _log.Line($"{Name}: faults healed, every relay and consumer runs; quiet period (at most {_settings.QuietTimeoutOf(_relay).TotalSeconds:0} s)");
    }

    private async Task<(bool Drained, TimeSpan Quiet)> WaitQuietAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            var snapshot = await SnapshotAsync(cancellationToken);
            if (snapshot is { } s && s.Pending == 0 && s.Effects.Count == ConsumerRole.Groups.Count && s.Effects.Values.All(e => e >= s.Committed))
            {
                _log.Line($"{Name}: drained and handled after {clock.Elapsed.TotalSeconds:0.0} s: {Describe(s)}");
                return (true, clock.Elapsed);
            }

            if (clock.Elapsed > _settings.QuietTimeoutOf(_relay))
            {
                _log.Line($"{Name}: NOT drained and handled within {_settings.QuietTimeoutOf(_relay).TotalSeconds:0} s: {(snapshot is { } last ? Describe(last) : "database unavailable")}");
                return (false, clock.Elapsed);
            }

            if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(10))
            {
                lastReport = clock.Elapsed;
                _log.Line($"{Name}: quiet period: {(snapshot is { } now ? Describe(now) : "database unavailable")}");
                if (snapshot is { Pending: > 0 })
                {
                    await LogPendingAsync(cancellationToken);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>Who holds the rows that wait: a stalled relay shows here.</summary>
    private async Task LogPendingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _database!.CreateCommand(_relay == RelayKind.Polling
                ? """
                  SELECT coalesce(l.owner, '(no owner)') || ': ' || count(DISTINCT m.lane) || ' lanes, ' || count(*) || ' rows, max attempts '
                         || max(m.attempts) || ', lease ' || CASE WHEN bool_and(l.lease_expires_at > now()) THEN 'live' ELSE 'expired' END
                         || coalesce(', last error: ' || max(m.last_error), '')
                  FROM outbox.messages m LEFT JOIN outbox.lanes l ON l.lane = m.lane GROUP BY l.owner
                  """
                : """
                  SELECT 'slot ' || slot_name || ' active_pid ' || coalesce(active_pid::text, 'none') || ' confirmed ' || coalesce(confirmed_flush_lsn::text, '?')
                         || ' wal_status ' || coalesce(wal_status, '?') || ' current ' || pg_current_wal_lsn()
                  FROM pg_replication_slots
                  """);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                _log.Line($"{Name}:   pending: {reader.GetString(0)}");
            }
        }
        catch (NpgsqlException ex)
        {
            if (OrchestratorQuery.IsServerUnavailable(ex))
            {
                _database!.Clear();
            }

            _log.Line($"{Name}:   pending: unknown ({ex.Message})");
        }
    }

    /// <summary>
    /// Logs progress every 5 s and applies back-pressure every second: when the slowest consumer group is more than
    /// <see cref="ChaosSettings.MaxLag"/> events behind the writers, they pause until it is within half of that. On a
    /// busy machine the one-record-per-transaction group is slower than the writers; without this the backlog, and so
    /// the quiet period, would grow with the length of the run.
    /// </summary>
    private async Task ReportProgressAsync(CancellationToken cancellationToken)
    {
        var paused = false;
        var ticks = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var snapshot = await SnapshotAsync(CancellationToken.None);
            if (++ticks % 5 == 0)
            {
                _log.Line($"{Name}: {(snapshot is { } s ? Describe(s) : "database unavailable")}{(paused ? " (writers paused)" : "")}");
            }

            if (snapshot is null)
            {
                continue;
            }

            var handled = ConsumerRole.Groups.Min(g => snapshot.Effects.GetValueOrDefault(g));
            var lag = snapshot.Committed - handled;
            if (!paused && lag > _settings.MaxLag)
            {
                paused = true;
                _log.Line($"{Name}: consumers are {lag} events behind: writers pause");
                _writers.ForEach(w => w.Send(ParentWatch.PauseLine));
            }
            else if (paused && lag < _settings.MaxLag / 2)
            {
                paused = false;
                _log.Line($"{Name}: consumers caught up to {lag} events behind: writers resume");
                _writers.ForEach(w => w.Send(ParentWatch.ResumeLine));
            }

            if (paused)
            {
                _writerPausedSeconds++;
            }
        }

        if (paused)
        {
            _writers.ForEach(w => w.Send(ParentWatch.ResumeLine));
        }
    }

    private static string Describe(Snapshot s) =>
        Invariant($"committed={s.Committed} pending={s.Pending} ") + string.Join(" ", s.Effects.Select(e => Invariant($"{e.Key}={e.Value}")));

    private async Task<Snapshot?> SnapshotAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _database!.CreateCommand(
                "SELECT (SELECT count(*) FROM chaos.committed), (SELECT count(*) FROM outbox.messages), " +
                "ARRAY(SELECT consumer_group FROM chaos.effects GROUP BY 1 ORDER BY 1), ARRAY(SELECT count(*) FROM chaos.effects GROUP BY consumer_group ORDER BY consumer_group)");
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var groups = reader.GetFieldValue<string[]>(2);
            var counts = reader.GetFieldValue<long[]>(3);
            return new Snapshot(reader.GetInt64(0), reader.GetInt64(1), groups.Zip(counts).ToDictionary(p => p.First, p => p.Second));
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            if (OrchestratorQuery.IsServerUnavailable(ex))
            {
                _database!.Clear();
            }

            return null;
        }
    }

    private async Task<RunResult> CheckAsync(FaultPlan plan, bool drained, TimeSpan quiet, CancellationToken cancellationToken)
    {
        var committed = await ReadAsync(
            "SELECT chaos_id, aggregate_id, version, writer FROM chaos.committed",
            r => new CommittedEvent(r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.GetInt32(3)),
            cancellationToken);
        var committedById = committed.ToDictionary(e => e.ChaosId);
        var effects = await ReadAsync(
            "SELECT consumer_group, chaos_id, aggregate_id, version, count FROM chaos.effects",
            r => new EffectRow(r.GetString(0), r.GetGuid(1), r.GetString(2), r.GetInt64(3), r.GetInt32(4)),
            cancellationToken);
        var sequenceExamples = await ReadAsync(
            "SELECT consumer_group, aggregate_id, expected, got, partition, \"offset\" FROM chaos.sequence_violations ORDER BY id LIMIT 10",
            r => Invariant(
                $"group {r.GetString(0)}: key {r.GetString(1)} expected v{r.GetInt64(2)}, handled v{r.GetInt64(3)} (partition {r.GetInt32(4)} offset {r.GetInt64(5)})"),
            cancellationToken);

        var sequenceViolations = await ScalarAsync("SELECT count(*) FROM chaos.sequence_violations", cancellationToken);
        var deadLetterRows = await ScalarAsync("SELECT count(*) FROM outbox.dead_letters", cancellationToken);
        var pending = await ScalarAsync("SELECT count(*) FROM outbox.messages", cancellationToken);

        // The writers' own bookkeeping: each aggregate's committed versions are exactly 1..n, n its current version.
        var inconsistencies = await ScalarAsync(
            """
            SELECT count(*) FROM chaos.aggregates a
            LEFT JOIN (SELECT aggregate_id, count(*) AS n, count(DISTINCT version) AS d, min(version) AS lo, max(version) AS hi
                       FROM chaos.committed GROUP BY aggregate_id) c ON c.aggregate_id = a.id
            WHERE coalesce(c.n, 0) <> a.version OR (c.n IS NOT NULL AND (c.d <> c.n OR c.lo <> 1 OR c.hi <> c.n))
            """,
            cancellationToken);

        var missingOutboxRows = await ScalarAsync("SELECT count(*) FROM chaos.committed WHERE outbox_id IS NULL", cancellationToken);
        var bootstrap = _kafka!.BootstrapServers;
        var topic = await Task.Run(() => TopicReader.Read(bootstrap, ChaosEvent.Topic, TimeSpan.FromMinutes(2)), cancellationToken);
        var deadLetterRecords = await Task.Run(() => TopicReader.Count(bootstrap, ChaosEvent.Topic + ".dlq"), cancellationToken);
        var findings = RunVerifier.Verify(committedById, topic.Records, effects, ConsumerRole.Groups);
        foreach (var example in findings.Examples.Concat(sequenceExamples))
        {
            _log.Line($"{Name}: example: {example}");
        }

        foreach (var stale in findings.StaleResendExamples.Take(5))
        {
            _log.Line($"{Name}: stale re-send: {stale}");
        }

        if (findings.LostSample.Count > 0)
        {
            await LogLostAsync(findings.LostSample, cancellationToken);
        }

        return new RunResult
        {
            Relay = _relay,
            Seed = _seed,
            Findings = findings,
            RolledBackEvents = _writers.Sum(w => WriterStats.Read(w.StatsLine, "rolled_back_events")),
            FailedTransactions = _writers.Sum(w => WriterStats.Read(w.StatsLine, "failed_tx")),
            UncertainCommits = _writers.Sum(w => WriterStats.Read(w.StatsLine, "uncertain_commits")),
            SequenceViolations = sequenceViolations,
            SequenceExamples = sequenceExamples,
            DeadLetterRows = deadLetterRows,
            DeadLetterRecords = deadLetterRecords,
            PendingRows = pending,
            WriterInconsistencies = inconsistencies,
            MissingOutboxRows = missingOutboxRows,
            Crashes = Services.Concat(_writers).SelectMany(p => p.Crashes).ToList(),
            TruncatedPartitions = topic.Truncated,
            InfrastructureErrors = _infrastructureErrors,
            Faults = new Dictionary<FaultKind, int>(_executed),
            PlannedFaults = plan.Faults.Count,
            Quiet = quiet,
            Drained = drained,
            WriterPausedSeconds = _writerPausedSeconds,
        };
    }

    /// <summary>What became of the outbox rows of lost events: still there, dead-lettered, or deleted (by whom, when, in which batch).</summary>
    private async Task LogLostAsync(IReadOnlyList<Guid> lost, CancellationToken cancellationToken)
    {
        const string Sql =
            """
            SELECT c.chaos_id::text || ' ' || c.aggregate_id || ' v' || c.version || ' writer ' || c.writer || ' outbox id ' || c.outbox_id
                   || ' written ' || to_char(c.written_at, 'HH24:MI:SS.MS')
                   || CASE WHEN m.id IS NOT NULL THEN ' STILL PENDING (commit_seq ' || coalesce(m.commit_seq::text, 'null') || ', attempts ' || m.attempts || ')' ELSE '' END
                   || CASE WHEN dl.id IS NOT NULL THEN ' DEAD-LETTERED' ELSE '' END
                   || coalesce(' deleted by ' || d.deleted_by || ' at ' || to_char(d.deleted_at, 'HH24:MI:SS.MS') || ' (lane ' || d.lane || ', commit_seq '
                               || coalesce(d.commit_seq::text, 'null') || ', attempts ' || d.attempts || ', xid ' || d.xid || ', '
                               || (SELECT count(*) FROM chaos.outbox_deletes b WHERE b.xid = d.xid) || ' rows in that delete, commit_seq '
                               || (SELECT min(b.commit_seq) || '..' || max(b.commit_seq) FROM chaos.outbox_deletes b WHERE b.xid = d.xid) || ')', ' never deleted')
            FROM chaos.committed c
            LEFT JOIN outbox.messages m ON m.id = c.outbox_id
            LEFT JOIN outbox.dead_letters dl ON dl.id = c.outbox_id
            LEFT JOIN chaos.outbox_deletes d ON d.id = c.outbox_id
            WHERE c.chaos_id = ANY($1)
            ORDER BY c.aggregate_id, c.version
            """;
        var lines = await ReadAsync(Sql, r => r.GetString(0), cancellationToken, new NpgsqlParameter<Guid[]> { TypedValue = [.. lost] });
        foreach (var line in lines)
        {
            _log.Line($"{Name}: lost: {line}");
        }
    }

    private Task<long> ScalarAsync(string sql, CancellationToken cancellationToken) =>
        QueryAsync(
            async ct =>
            {
                await using var command = _database!.CreateCommand(sql);
                return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            },
            cancellationToken);

    /// <summary>Every row of a query, read again from the start when a PostgreSQL restart breaks the read.</summary>
    private Task<List<T>> ReadAsync<T>(string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken, params NpgsqlParameter[] parameters) =>
        QueryAsync(
            async ct =>
            {
                var rows = new List<T>();
                await using var command = _database!.CreateCommand(sql);
                foreach (var parameter in parameters)
                {
                    command.Parameters.Add(parameter.Clone());
                }

                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    rows.Add(map(reader));
                }

                return rows;
            },
            cancellationToken);

    private Task<T> QueryAsync<T>(Func<CancellationToken, Task<T>> query, CancellationToken cancellationToken) =>
        OrchestratorQuery.RunAsync(_database!, query, message => _log.Line($"{Name}: {message}"), cancellationToken);

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    private sealed record Snapshot(long Committed, long Pending, Dictionary<string, long> Effects);
}
