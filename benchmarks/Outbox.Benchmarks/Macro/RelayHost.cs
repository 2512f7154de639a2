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
    /// <param name="smallLimits">Whether the relay runs with small limits (<c>MaxPayloadBytes</c> 4,096, the producer's
    /// <c>message.max.bytes</c> 20,480), so that a larger payload written by a writer with the default limit is one its
    /// producer refuses (a poison event).</param>
    public static IHost Build(
        RelayKind relay, string connectionString, string bootstrapServers, Workload workload, AckRecorder recorder, int? lingerMs = null, int? batchesInFlight = null,
        bool smallLimits = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        var outbox = builder.Services
            .AddOutbox(o =>
            {
                o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId);
                if (smallLimits)
                {
                    o.MaxPayloadBytes = 4096;
                }
            })
            .UsePostgreSql(connectionString)
            .UseKafka(k =>
            {
                k.BootstrapServers = bootstrapServers;
                if (smallLimits)
                {
                    k.Producer.MessageMaxBytes = 20_480;
                }

                // Only when asked (--linger-ms): the library's default is 5 ms, 1 ms with the CDC relay.
                if (lingerMs is { } linger)
                {
                    k.Producer.LingerMs = linger;
                }
            });

        // The library's defaults: one relay instance as an application would configure it. Slot names are unique
        // in the whole PostgreSQL cluster, so each run gets its own.
        _ = relay switch
        {
            RelayKind.Polling => outbox.AddPollingRelay(),
            RelayKind.Cdc => outbox.AddCdcRelay(o =>
            {
                o.SlotName = SlotName(workload);

                // Only when asked (--batches-in-flight): the library's default is 4.
                if (batchesInFlight is { } inFlight)
                {
                    o.MaxBatchesInFlight = inFlight;
                }
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(relay), relay, null),
        };
        AckRecordingPublisher.Decorate(builder.Services, recorder);
        return builder.Build();
    }

    public static string SlotName(Workload workload) => "bench_" + workload.RunId;

    /// <summary>Waits until the CDC relay streams (its replication slot is active).</summary>
    public static async Task WaitUntilStreamingAsync(string connectionString, Workload workload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SlotName(workload) });
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
}
