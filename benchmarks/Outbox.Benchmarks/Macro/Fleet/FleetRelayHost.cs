using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// One relay process over many databases, configured the way an application configures it (<c>AddOutbox</c>,
/// <c>UsePostgreSqlDatabases</c> with the schema ensured at start, <c>UseKafka</c>, <c>AddPollingRelay()</c> with its
/// defaults), with the publisher wrapped to record acknowledgements.
/// </summary>
internal static class FleetRelayHost
{
    /// <param name="maxListeningDatabases">Overrides <see cref="OutboxDatabasesOptions.MaxListeningDatabases"/> (default 16) when set.</param>
    public static IHost Build(IReadOnlyList<OutboxDatabase> databases, string bootstrapServers, Workload workload, AckRecorder recorder, int? maxListeningDatabases = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services
            .AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSqlDatabases(o =>
            {
                foreach (var database in databases)
                {
                    o.Databases.Add(database);
                }

                o.EnsureSchemaOnStart = true;
                if (maxListeningDatabases is { } listening)
                {
                    o.MaxListeningDatabases = listening;
                }
            })
            .UseKafka(k => k.BootstrapServers = bootstrapServers)
            .AddPollingRelay();
        AckRecordingPublisher.Decorate(builder.Services, recorder);
        return builder.Build();
    }

    /// <summary>
    /// Waits until the fleet serves every database with a valid lease heartbeat and holds every lane of each
    /// (<see cref="OutboxFleetMonitor"/>); returns how long that took.
    /// </summary>
    public static async Task<TimeSpan> WaitUntilReadyAsync(IHost host, int databases, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var monitor = host.Services.GetRequiredService<OutboxFleetMonitor>();
        var lanes = host.Services.GetRequiredService<IOptions<OutboxOptions>>().Value.LaneCount;
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var states = monitor.Databases;
            var ready = states.Count(s => s.Served && s.HeartbeatValid && s.OwnedLanes.Count == lanes);
            if (states.Count == databases && ready == databases)
            {
                return Stopwatch.GetElapsedTime(started);
            }

            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                var problems = states.Where(s => s.Problem is not null).Take(3).Select(s => $"{s.Name}: {s.Problem}");
                throw new TimeoutException(Fmt.Inv($"The relay fleet was not ready within {timeout}: {ready} of {databases} databases served with all {lanes} lanes leased. {string.Join("; ", problems)}"));
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
