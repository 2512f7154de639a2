using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.Relay;

namespace Outbox.PostgreSql.Databases;

/// <summary>
/// Spreads the CDC slots of a fleet's databases over its instances, server by server. Each instance holds one idle
/// connection per server whose <c>application_name</c> says "an instance of this fleet" (<c>outbox-fleet:</c>, a hash of
/// the slot name prefix, and the instance's id), so that every instance can count the instances on that server
/// (<c>pg_stat_activity</c>, whose <c>application_name</c> any role can read). With D databases on a server and I
/// instances, an instance's fair share is ceil(D / I) slots: below it, an instance takes a free slot at once; at or above
/// it, only after the slot stayed free for a grace period (so that no slot is left without a relay when the others are
/// full or gone); above it, it gives one slot back per grace period (its relay stops and restarts as a standby, and
/// holds back for the grace period while an instance below its share takes the slot over). The one-active-per-slot
/// rule and the takeover are the single-database relay's: a slot changes hands as when an instance stops.
/// </summary>
internal sealed class CdcSlotBalancer : IAsyncDisposable
{
    private const string Prefix = "outbox-fleet:";
    private readonly string _fleet;
    private readonly string _instance;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ClusterPresence> _clusters = new(StringComparer.Ordinal);
    private readonly Dictionary<FleetMember, long> _deniedSince = [];
    private readonly Dictionary<FleetMember, long> _holdBackUntil = [];
    private Func<IReadOnlyList<FleetMember>> _members = () => [];

    public CdcSlotBalancer(string slotName, TimeSpan grace, TimeProvider timeProvider, ILogger logger)
    {
        _fleet = Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(slotName)))[..8] + ":";
        _instance = Guid.NewGuid().ToString("N")[..12];
        _grace = grace;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Gets the <c>application_name</c> of this instance's presence connections.</summary>
    public string ApplicationName => _fleet + _instance;

    /// <summary>Sets where the balancer reads the fleet's members from.</summary>
    public void Attach(Func<IReadOnlyList<FleetMember>> members) => _members = members;

    /// <summary>The instances of this fleet seen on the server at the last update; at least 1 (this one).</summary>
    public int InstancesOn(string cluster)
    {
        lock (_gate)
        {
            return _clusters.TryGetValue(cluster, out var presence) ? Math.Max(1, presence.Instances) : 1;
        }
    }

    /// <summary>
    /// Whether the CDC relay of <paramref name="member"/> may try to take its slot now (asked before each attempt).
    /// </summary>
    public bool MayAcquire(FleetMember member)
    {
        var now = _timeProvider.GetTimestamp();
        var (mine, fair) = ShareOf(member.Cluster, member);
        lock (_gate)
        {
            if (_holdBackUntil.TryGetValue(member, out var until))
            {
                if (now < until)
                {
                    return false;
                }

                _holdBackUntil.Remove(member);
            }

            if (mine < fair)
            {
                _deniedSince.Remove(member);
                return true;
            }

            if (!_deniedSince.TryGetValue(member, out var since))
            {
                _deniedSince[member] = now;
                return false;
            }

            if (_timeProvider.GetElapsedTime(since, now) < _grace)
            {
                return false;
            }

            // Free (or still held) for a whole grace period: try once, then wait another period.
            _deniedSince[member] = now;
            return true;
        }
    }

    /// <summary>The member was given back: its new relay holds back for the grace period.</summary>
    public void HoldBack(FleetMember member)
    {
        lock (_gate)
        {
            _holdBackUntil[member] = _timeProvider.GetTimestamp() + (long)(_grace.TotalSeconds * _timeProvider.TimestampFrequency);
        }
    }

    public void Forget(FleetMember member)
    {
        lock (_gate)
        {
            _deniedSince.Remove(member);
            _holdBackUntil.Remove(member);
        }
    }

    /// <summary>
    /// Opens the presence connection of each server with CDC members (again, when it broke), closes the ones of servers
    /// without, and counts the instances on each; then returns, per server where this instance streams more than its fair
    /// share and gave nothing back within the grace period, one member to give back.
    /// </summary>
    public async Task<IReadOnlyList<FleetMember>> UpdateAsync(CancellationToken cancellationToken)
    {
        var members = _members().Where(m => m is { Started: true, Cdc: not null }).ToList();
        var byCluster = members.GroupBy(m => m.Cluster, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        List<ClusterPresence> gone;
        lock (_gate)
        {
            gone = [.. _clusters.Where(c => !byCluster.ContainsKey(c.Key)).Select(c => c.Value)];
            foreach (var presence in gone)
            {
                _clusters.Remove(presence.Cluster);
            }
        }

        foreach (var presence in gone)
        {
            await presence.DisposeAsync().ConfigureAwait(false);
        }

        var release = new List<FleetMember>();
        foreach (var (cluster, clusterMembers) in byCluster)
        {
            ClusterPresence? presence;
            ClusterPresence? stale = null;
            lock (_gate)
            {
                if (_clusters.TryGetValue(cluster, out presence) && !clusterMembers.Exists(m => m.Database.ConnectionString == presence.ConnectionString))
                {
                    // Its database left the fleet: a connection to it would keep it from being dropped.
                    stale = presence;
                    presence = null;
                }

                if (presence is null)
                {
                    presence = new ClusterPresence(cluster, clusterMembers[0].Database.ConnectionString, ApplicationName, _fleet) { LastRelease = stale?.LastRelease ?? 0 };
                    _clusters[cluster] = presence;
                }
            }

            if (stale is not null)
            {
                await stale.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                var instances = await presence.CountAsync(cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    presence.Instances = instances;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // Unknown: this instance counts itself alone there, so it takes free slots first come, first served.
                lock (_gate)
                {
                    presence.Instances = 1;
                }

                Log.PresenceFailed(_logger, cluster, ex);
                continue;
            }

            var (mine, fair) = ShareOf(cluster, null);
            var now = _timeProvider.GetTimestamp();
            if (mine > fair && _timeProvider.GetElapsedTime(presence.LastRelease, now) >= _grace)
            {
                var streaming = clusterMembers.Where(m => m.CdcMonitor?.State == CdcRelayState.Streaming).OrderBy(m => m.Database.Name, StringComparer.Ordinal).ToList();
                if (streaming.Count > 0)
                {
                    presence.LastRelease = now;
                    release.Add(streaming[^1]);
                    Log.SlotGivenBack(_logger, streaming[^1].Database.Name, mine, fair, InstancesOn(cluster), cluster);
                }
            }
        }

        return release;
    }

    public async ValueTask DisposeAsync()
    {
        List<ClusterPresence> all;
        lock (_gate)
        {
            all = [.. _clusters.Values];
            _clusters.Clear();
        }

        foreach (var presence in all)
        {
            await presence.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>This instance's streaming slots on the server (apart from <paramref name="except"/>) and its fair share.</summary>
    private (int Mine, int Fair) ShareOf(string cluster, FleetMember? except)
    {
        var members = _members().Where(m => m is { Started: true, Cdc: not null } && m.Cluster == cluster).ToList();
        var mine = members.Count(m => m != except && m.CdcMonitor?.State == CdcRelayState.Streaming);
        var instances = InstancesOn(cluster);
        var fair = (members.Count + instances - 1) / instances;
        return (mine, Math.Max(1, fair));
    }

    /// <summary>The presence connection of this instance on one server.</summary>
    private sealed class ClusterPresence(string cluster, string connectionString, string applicationName, string fleet) : IAsyncDisposable
    {
        private NpgsqlConnection? _connection;

        public string Cluster { get; } = cluster;

        public string ConnectionString { get; } = connectionString;

        public int Instances { get; set; } = 1;

        public long LastRelease { get; set; }

        public async Task<int> CountAsync(CancellationToken cancellationToken)
        {
            if (_connection is not { State: System.Data.ConnectionState.Open })
            {
                if (_connection is not null)
                {
                    await _connection.DisposeAsync().ConfigureAwait(false);
                }

                var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { ApplicationName = applicationName, Pooling = false };
                _connection = new NpgsqlConnection(builder.ConnectionString);
                await _connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }

            var command = new NpgsqlCommand(
                "SELECT count(DISTINCT application_name)::int FROM pg_stat_activity WHERE left(application_name, length($1)) = $1", _connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fleet });
                try
                {
                    return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
                }
                catch
                {
                    await _connection.DisposeAsync().ConfigureAwait(false);
                    _connection = null;
                    throw;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
                _connection = null;
            }
        }
    }
}
