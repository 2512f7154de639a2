using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// A host configured the way an application configures the library (<c>AddOutbox</c>, <c>UsePostgreSql</c>,
/// <c>UseKafka</c>, one relay), with the publisher wrapped to record acknowledgements.
/// </summary>
internal static class RelayHost
{
    public static IHost Build(RelayKind relay, string connectionString, string bootstrapServers, Workload workload, AckRecorder recorder)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        var outbox = builder.Services
            .AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSql(connectionString)
            .UseKafka(k => k.BootstrapServers = bootstrapServers);
        AddRelay(outbox, relay);
        AckRecordingPublisher.Decorate(builder.Services, recorder);
        return builder.Build();
    }

    /// <summary>Waits until the CDC relay streams (its replication slot in this database is active).</summary>
    public static async Task WaitUntilStreamingAsync(string connectionString, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active", connection);
        var deadline = DateTimeOffset.UtcNow + timeout;
        while ((long)(await command.ExecuteScalarAsync(cancellationToken))! == 0)
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"The CDC relay did not start streaming within {timeout}.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static void AddRelay(IOutboxBuilder outbox, RelayKind relay)
    {
        switch (relay)
        {
            case RelayKind.Polling:
                throw new NotSupportedException("The polling relay (AddPollingRelay) is not in this build yet.");
            case RelayKind.Cdc:
                throw new NotSupportedException("The CDC relay (AddCdcRelay) is not in this build yet.");
            default:
                throw new ArgumentOutOfRangeException(nameof(relay), relay, null);
        }
    }
}
