using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Outbox.ChaosTests.Model;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>cdc-relay --cs CS --bootstrap SERVERS --name NAME [--parent PID]</c>: one CDC relay; with two of them, one streams
/// the slot and the other waits as a standby.
/// </summary>
public static class CdcRelayRole
{
    public const string SlotName = "chaos_cdc";

    public static async Task<int> RunAsync(RoleArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var name = args.Required("name");
        var stop = ParentWatch.Start(args.OptionalInt("parent"));
        var builder = RoleHost.CreateBuilder();
        var debug = args.Optional("kafka-debug");
        if (debug is not null)
        {
            builder.Logging.AddFilter("Outbox.Kafka.Publishing", LogLevel.Debug);
        }

        builder.Services.AddOutbox(ChaosEvent.Map)
            .UsePostgreSql(ConnectionStrings.WithApplicationName(args.Required("cs"), name))
            .UseKafka(k =>
            {
                ChaosKafka.Configure(k, args.Required("bootstrap"));
                if (debug is not null)
                {
                    k.Producer.Debug = debug;
                }
            })
            .AddCdcRelay(o =>
            {
                o.SlotName = SlotName;
                o.StandbyPollInterval = TimeSpan.FromMilliseconds(250);
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(200);
                o.RetryMaxDelay = TimeSpan.FromSeconds(5);
            });
        using var host = builder.Build();
        return await RoleHost.RunAsync(host, stop);
    }
}
