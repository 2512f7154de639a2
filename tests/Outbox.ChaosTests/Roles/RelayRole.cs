using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Outbox.ChaosTests.Model;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>relay --cs CS --bootstrap SERVERS --name NAME [--parent PID]</c>: one polling relay instance. Lease times are
/// short so that a killed instance's lanes move within seconds; everything else is the library's default.
/// </summary>
public static class RelayRole
{
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
            .AddPollingRelay(o =>
            {
                o.InstanceId = name + "-" + Environment.ProcessId;
                o.LeaseDuration = TimeSpan.FromSeconds(4);
                o.HeartbeatInterval = TimeSpan.FromSeconds(1);
                o.PollInterval = TimeSpan.FromMilliseconds(250);
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(200);
                o.RetryMaxDelay = TimeSpan.FromSeconds(5);
            });
        using var host = builder.Build();
        return await RoleHost.RunAsync(host, stop);
    }
}
