using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Databases;

/// <summary>
/// Serves every database of <c>UsePostgreSqlDatabases</c> in this process: reads the databases from the source (at start,
/// every <see cref="OutboxDatabasesOptions.RefreshInterval"/>, and at once when an <see cref="OutboxDatabaseSet"/> changes);
/// for each new one opens a pool of its own, ensures the schema when asked, and with <c>AddPollingRelay()</c> starts a
/// polling relay on it (its lanes leased in that database with the other instances: the leased unit is (database, lane));
/// for each one that went away stops its relay, which gives its lanes back. One database failing never stops the others.
/// </summary>
internal sealed class OutboxRelayFleet : IHostedService, IAsyncDisposable
{
    /// <summary>How long PostgreSQL may keep an idle session's counts unpublished (its <c>PGSTAT_IDLE_INTERVAL</c>).</summary>
    private static readonly TimeSpan StatisticsTrail = TimeSpan.FromSeconds(10);

    private readonly IServiceProvider _services;
    private readonly OutboxDatabasesOptions _options;
    private readonly OutboxOptions _outboxOptions;
    private readonly RelayModeRegistration? _relayMode;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, FleetMember> _members = new(StringComparer.Ordinal);
    private readonly Lock _membersGate = new();
    private IOutboxDatabaseSource? _source;
    private CdcSlotBalancer? _balancer;

    /// <summary>The slots of the drain cycles of every database's polling relay (<see cref="OutboxDatabasesOptions.MaxConcurrentDrainCycles"/>).</summary>
    private readonly SemaphoreSlim _drainGate;
    private Task? _loop;
    private Task? _watch;
    private volatile string? _sourceProblem;
    private volatile Task _changed = Task.CompletedTask;

    /// <summary>The change signal of a source that gives none: the refresh interval alone wakes the loop.</summary>
    private static readonly Task Never = new TaskCompletionSource().Task;
    private int _stopped;

    public OutboxRelayFleet(
        IServiceProvider services,
        IOptions<OutboxDatabasesOptions> options,
        IOptions<OutboxOptions> outboxOptions,
        TimeProvider timeProvider,
        RelayModeRegistration? relayMode = null,
        ILoggerFactory? loggerFactory = null)
    {
        _services = services;
        _options = options.Value;
        _outboxOptions = outboxOptions.Value;
        _relayMode = relayMode;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<OutboxRelayFleet>();
        _drainGate = new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentDrainCycles));
    }

    /// <summary>Gets why the source could not be read at the last refresh, or <see langword="null"/>.</summary>
    public string? SourceProblem => _sourceProblem;

    /// <summary>Gets whether this process relays; without a relay the fleet only ensures the schemas.</summary>
    public bool Relays => Polls || _relayMode is { Mode: RelayMode.Cdc };

    /// <summary>Gets whether the relay is the polling relay (else CDC, or none).</summary>
    private bool Polls => _relayMode is { Mode: RelayMode.Polling };

    /// <summary>Gets the databases served (or tried) now, by name.</summary>
    public IReadOnlyList<FleetMember> Members
    {
        get
        {
            lock (_membersGate)
            {
                return [.. _members.Values.OrderBy(m => m.Database.Name, StringComparer.Ordinal)];
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The backlog gauges exist before the first scrape, one measurement per database served (not yet started ones included).
        _ = new BacklogGauges(
            _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            () => Members.Select(m => (m.Backlog, (string?)m.Database.Name)),
            _outboxOptions,
            _timeProvider);
        _source = _options.SourceFactory is { } factory
            ? factory(_services) ?? throw new OutboxConfigurationException("The IOutboxDatabaseSource given to UsePostgreSqlDatabases(...) is null.")
            : new OutboxDatabaseSet(_options.Databases);
        if (_relayMode is { Mode: RelayMode.Cdc })
        {
            // One per process, before the databases' CDC relays start (they start several at a time).
            _balancer = NewBalancer(_services.GetRequiredService<IOptions<CdcRelayOptions>>().Value);
        }

        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => RefreshLoopAsync(_stopping.Token), CancellationToken.None);
        if (Polls)
        {
            _watch = Task.Run(() => WatchActivityLoopAsync(_stopping.Token), CancellationToken.None);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (_watch is not null)
        {
            await _watch.ConfigureAwait(false);
        }

        await _refreshGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            FleetMember[] members;
            lock (_membersGate)
            {
                members = [.. _members.Values];
                _members.Clear();
            }

            await Task.WhenAll(members.Select(m => StopMemberAsync(m, cancellationToken))).ConfigureAwait(false);
            if (_balancer is not null)
            {
                await _balancer.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _refreshGate.Dispose();
        _drainGate.Dispose();
    }

    /// <summary>Reads the source once and brings the members in line with it (tests call it to skip the wait).</summary>
    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _stopped) != 0 || _source is null)
            {
                return;
            }

            IReadOnlyCollection<OutboxDatabase> listed;
            _changed = (_source as OutboxDatabaseSet)?.Changed ?? Never;
            try
            {
                listed = await _source.GetDatabasesAsync(cancellationToken).ConfigureAwait(false)
                         ?? throw new InvalidOperationException("The outbox database source returned null instead of a collection.");
                _sourceProblem = null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _sourceProblem = ex.Message;
                Log.SourceFailed(_logger, _options.RefreshInterval, ex);
                return;
            }

            var wanted = new Dictionary<string, OutboxDatabase>(StringComparer.Ordinal);
            foreach (var database in listed)
            {
                if (database is not null && !wanted.TryAdd(database.Name, database))
                {
                    Log.DuplicateDatabase(_logger, database.Name);
                }
            }

            // A database leaves the list (and OutboxFleetMonitor.Databases) once its relay stopped and gave its lanes back.
            List<FleetMember> leaving;
            lock (_membersGate)
            {
                leaving = [.. _members.Values.Where(m => !wanted.TryGetValue(m.Database.Name, out var w) || w != m.Database)];
            }

            await Task.WhenAll(leaving.Select(m => StopMemberAsync(m, cancellationToken))).ConfigureAwait(false);
            lock (_membersGate)
            {
                foreach (var member in leaving)
                {
                    _members.Remove(member.Database.Name);
                }
            }

            // New databases, and the ones that could not be served at the last refresh, a few at a time.
            var pending = new List<FleetMember>();
            lock (_membersGate)
            {
                var listening = _members.Values.Count(m => m.Listening);
                foreach (var database in wanted.Values)
                {
                    if (_members.TryGetValue(database.Name, out var member))
                    {
                        if (!member.Started)
                        {
                            pending.Add(member);
                        }

                        continue;
                    }

                    var listen = Polls && listening < _options.MaxListeningDatabases;
                    listening += listen ? 1 : 0;
                    var dataSource = NpgsqlDataSource.Create(ConnectionStringFor(database.ConnectionString, _options.MaxPoolSizePerDatabase));
                    member = new FleetMember(database, dataSource, listen, new BacklogSampler(() => dataSource, _outboxOptions, _timeProvider));
                    _members.Add(database.Name, member);
                    pending.Add(member);
                }
            }

            await Parallel.ForEachAsync(
                pending,
                new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
                async (member, ct) => await StartMemberAsync(member, ct).ConfigureAwait(false)).ConfigureAwait(false);
            await BalanceSlotsAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    /// <summary>The connection string of a database's pool: tuned like the outbox's own pool
    /// (<see cref="OutboxDataSource.Tuned"/>), and small unless it sets its own size. Idle connections are kept as long as
    /// Npgsql keeps them by default: closing them sooner than the relay's heartbeat and poll come back only trades an idle
    /// connection for a new server process every few seconds (measured: a 3 x 20 database run went from 25 s to over 3 min
    /// to start with a 2 s idle lifetime).</summary>
    internal static string ConnectionStringFor(string connectionString, int maxPoolSize)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var keys = given.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var builder = new NpgsqlConnectionStringBuilder(OutboxDataSource.Tuned(connectionString));
        if (!keys.Contains("MaxPoolSize") && !keys.Contains("MaximumPoolSize"))
        {
            builder.MaxPoolSize = maxPoolSize;
        }

        return builder.ConnectionString;
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // The change signal was taken before the last read of the set: a change made since then wakes this at once.
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    var delay = Task.Delay(_options.RefreshInterval, _timeProvider, wait.Token);
                    await Task.WhenAny(delay, _changed).ConfigureAwait(false);
                    await wait.CancelAsync().ConfigureAwait(false);
                }

                cancellationToken.ThrowIfCancellationRequested();
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // RefreshAsync catches per database; this is a bug or the pool could not be built.
                Log.SourceFailed(_logger, _options.RefreshInterval, ex);
            }
        }
    }

    /// <summary>
    /// For the databases whose relay does not listen: every <see cref="OutboxDatabasesOptions.ActivityCheckInterval"/>, one
    /// query per server reads how many rows each of its databases inserted (<c>pg_stat_database.tup_inserted</c>, kept by
    /// PostgreSQL for every database and readable from any); a database whose count moved gets a poll at once, and again
    /// at every check of the <see cref="StatisticsTrail"/> after its count last moved: PostgreSQL (15 and later) publishes a
    /// session's counts at most once a second and, when the session goes idle less than a second after its last
    /// publication, only after its idle-statistics timeout of 10 s. The rows committed at the end of a burst therefore
    /// show up in the counts about 10 s late; the trailing polls find them within a check or two instead.
    /// </summary>
    private async Task WatchActivityLoopAsync(CancellationToken cancellationToken)
    {
        var seen = new Dictionary<FleetMember, (long Count, long MovedAt)>();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.ActivityCheckInterval, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var watched = Members.Where(m => m is { Started: true, Listening: false, Host: not null }).ToList();
            foreach (var gone in seen.Keys.Except(watched).ToList())
            {
                seen.Remove(gone);
            }

            foreach (var cluster in watched.GroupBy(m => m.Cluster, StringComparer.Ordinal))
            {
                try
                {
                    var inserted = await ReadInsertedAsync(cluster.First().DataSource, [.. cluster.Select(m => m.DatabaseName).Distinct(StringComparer.Ordinal)], cancellationToken).ConfigureAwait(false);
                    var now = _timeProvider.GetTimestamp();
                    foreach (var member in cluster)
                    {
                        if (!inserted.TryGetValue(member.DatabaseName, out var count))
                        {
                            continue;
                        }

                        if (!seen.TryGetValue(member, out var before) || before.Count != count)
                        {
                            seen[member] = (count, now);
                            member.Host!.PollNow();
                        }
                        else if (_timeProvider.GetElapsedTime(before.MovedAt, now) <= StatisticsTrail + _options.ActivityCheckInterval)
                        {
                            member.Host!.PollNow();
                        }
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
                {
                    // That server's databases are found by their own polls meanwhile.
                    Log.ActivityCheckFailed(_logger, cluster.Key, ex);
                }
            }
        }
    }

    private static async Task<Dictionary<string, long>> ReadInsertedAsync(NpgsqlDataSource dataSource, string[] databases, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var command = dataSource.CreateCommand("SELECT datname, tup_inserted FROM pg_stat_database WHERE datname = ANY($1)");
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = databases });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    counts[reader.GetString(0)] = reader.GetInt64(1);
                }
            }
        }

        return counts;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private async Task StartMemberAsync(FleetMember member, CancellationToken cancellationToken)
    {
        var name = member.Database.Name;
        using var scope = _logger.BeginScope(new Dictionary<string, object> { [MessagingAttributes.OutboxDatabase] = name });
        var step = "creating the outbox schema";
        try
        {
            if (_options.EnsureSchemaOnStart)
            {
                await OutboxSchema.EnsureCreatedAsync(
                    member.DataSource, _outboxOptions, RelayModeRegistration.CommitOrderOf(_relayMode), _options.UnknownCommitOrder, cancellationToken).ConfigureAwait(false);
            }

            step = "starting its CDC relay";
            if (_relayMode is { Mode: RelayMode.Cdc } && member.Cdc is null)
            {
                await StartCdcAsync(member, cancellationToken).ConfigureAwait(false);
            }

            step = "starting its polling relay";
            if (Polls && member.Host is null)
            {
                var pollingOptions = _services.GetRequiredService<IOptions<PollingRelayOptions>>().Value;
                var store = new PostgreSqlPollingStore(member.DataSource, _outboxOptions, pollingOptions.PublishedRetention is not null, member.Database.Name);
                member.Relay = new PollingRelay(
                    store,
                    _services.GetService<IOutboxPublisher>() ?? throw new OutboxConfigurationException("AddPollingRelay() needs a transport to publish to: call UseKafka(...) on the outbox builder."),
                    pollingOptions,
                    _outboxOptions,
                    _timeProvider,
                    _services.GetRequiredService<RelayTelemetry>(),
                    _loggerFactory.CreateLogger<PollingRelay>(),
                    jitter: null,
                    database: name);
                member.Host = new PollingRelayHostedService(
                    member.Relay, store, _timeProvider, _loggerFactory.CreateLogger<PollingRelayHostedService>(), member.Listening,
                    member.Listening ? null : Max(_options.NotListeningPollInterval, pollingOptions.PollInterval),
                    _drainGate);

                // The relay's loops start here and carry the log scope that names the database.
                await member.Host.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            member.Started = true;
            member.Problem = null;
            Log.DatabaseStarted(
                _logger, name,
                !Relays ? "schema only (no relay in this process)" : member.Cdc is not null ? "CDC relay started on slot " + SlotNameFor(member) : member.Listening ? "polling relay started, listening for new rows" : "polling relay started, polling for new rows");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            member.Problem = $"{step}: {ex.Message}";
            Log.DatabaseFailed(_logger, name, step, ex);
        }
    }

    /// <summary>
    /// The database's CDC relay: on a slot of its own (slots are per server, so the name carries the database's), with the
    /// publication, parking and backlog in its database; the one-active-per-slot rule makes the other instances standbys.
    /// </summary>
    private async Task StartCdcAsync(FleetMember member, CancellationToken cancellationToken)
    {
        var cdcOptions = _services.GetRequiredService<IOptions<CdcRelayOptions>>().Value;
        var names = new Replication.CdcNames(_outboxOptions, SlotNameFor(member), cdcOptions.PublicationName);
        var store = new Cdc.CdcStore(member.DataSource, names, member.Database.ConnectionString, member.Database.Name);
        var acknowledger = new Cdc.CdcAcknowledger();
        var monitor = new CdcRelayMonitor(() => store, () => acknowledger.Published);
        ILogger logger = _loggerFactory.CreateLogger<Cdc.CdcRelayService>();
        var replication = new Cdc.CdcReplication(
            store,
            new Cdc.CdcSlotManager(store, logger, _options.UnknownCommitOrder),
            acknowledger,
            new ParkingStore(member.DataSource, _outboxOptions),
            _services.GetService<IOutboxPublisher>() ?? throw new OutboxConfigurationException("AddCdcRelay() needs a broker: call UseKafka(...) on the outbox builder."),
            _outboxOptions,
            cdcOptions,
            member.Database.ConnectionString,
            _timeProvider,
            _services.GetRequiredService<RelayTelemetry>().ForDatabase(member.Database.Name),
            logger);
        var balancer = _balancer ?? throw new InvalidOperationException("The CDC slot balancer is created at start.");
        var service = new Cdc.CdcRelayService(new Cdc.CdcRelay(replication, cdcOptions, monitor, logger, () => balancer.MayAcquire(member)), _timeProvider);
        await service.StartAsync(cancellationToken).ConfigureAwait(false);
        member.CdcMonitor = monitor;
        member.CdcAcknowledger = acknowledger;
        member.Cdc = service;
    }

    /// <summary>
    /// The replication slot of a database: <see cref="CdcRelayOptions.SlotName"/>, <c>_</c>, the database's name in
    /// lower case with every character other than a letter, digit or <c>_</c> as <c>_</c>; when that changed the name or
    /// it is too long, a hash of the name keeps it unique, within the 63 characters PostgreSQL allows.
    /// </summary>
    internal static string SlotNameFor(string slotName, string database)
    {
        var cleaned = new string([.. database.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? c : '_')]);
        var name = slotName + "_" + cleaned;
        if (cleaned == database && name.Length <= 63)
        {
            return name;
        }

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(database)))[..8];
        var room = 63 - hash.Length - 1;
        return (name.Length > room ? name[..room] : name) + "_" + hash;
    }

    private CdcSlotBalancer NewBalancer(CdcRelayOptions cdcOptions)
    {
        var grace = Max(Max(_options.RefreshInterval * 2, cdcOptions.StandbyPollInterval * 10), TimeSpan.FromSeconds(1));
        var balancer = new CdcSlotBalancer(cdcOptions.SlotName, grace, _timeProvider, _logger);
        balancer.Attach(() => Members);
        return balancer;
    }

    /// <summary>
    /// With the CDC relay: counts this fleet's instances per server and gives back a slot where this instance streams more
    /// than its share (its relay restarts as a standby that holds back while another instance takes the slot over).
    /// </summary>
    private async Task BalanceSlotsAsync(CancellationToken cancellationToken)
    {
        if (_balancer is not { } balancer)
        {
            return;
        }

        foreach (var member in await balancer.UpdateAsync(cancellationToken).ConfigureAwait(false))
        {
            using var scope = _logger.BeginScope(new Dictionary<string, object> { [MessagingAttributes.OutboxDatabase] = member.Database.Name });
            try
            {
                if (member.Cdc is { } cdc)
                {
                    member.Cdc = null;
                    balancer.HoldBack(member);
                    await cdc.StopAsync(cancellationToken).ConfigureAwait(false);
                    await cdc.DisposeAsync().ConfigureAwait(false);
                    await StartCdcAsync(member, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                member.Started = false;
                member.Problem = ex.Message;
                Log.DatabaseFailed(_logger, member.Database.Name, "restarting its CDC relay as a standby", ex);
            }
        }
    }

    private string SlotNameFor(FleetMember member) =>
        SlotNameFor(_services.GetRequiredService<IOptions<CdcRelayOptions>>().Value.SlotName, member.Database.Name);

    private async Task StopMemberAsync(FleetMember member, CancellationToken cancellationToken)
    {
        using var scope = _logger.BeginScope(new Dictionary<string, object> { [MessagingAttributes.OutboxDatabase] = member.Database.Name });
        try
        {
            if (member.Host is { } host)
            {
                await host.StopAsync(cancellationToken).ConfigureAwait(false);
                await host.DisposeAsync().ConfigureAwait(false);
                Log.DatabaseStopped(_logger, member.Database.Name);
            }

            if (member.Cdc is { } cdc)
            {
                await cdc.StopAsync(cancellationToken).ConfigureAwait(false);
                await cdc.DisposeAsync().ConfigureAwait(false);
                Log.DatabaseStopped(_logger, member.Database.Name);
            }

            _balancer?.Forget(member);
        }
        finally
        {
            await member.DataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
