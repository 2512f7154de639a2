using Microsoft.Extensions.DependencyInjection;
using Outbox.ChaosTests.Model;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>fleet-relay --databases FILE --bootstrap SERVERS --prefix TOPIC_PREFIX --name NAME [--parent PID]</c>: one polling
/// relay instance over every database the file lists (<c>UsePostgreSqlDatabases</c>, schemas created by the fleet), read
/// again every second. Lease times are short so that a killed instance's lanes move within seconds.
/// </summary>
public static class FleetRelayRole
{
    public static async Task<int> RunAsync(RoleArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var name = args.Required("name");
        var stop = ParentWatch.Start(args.OptionalInt("parent"));
        var builder = RoleHost.CreateBuilder();
        var source = new FileDatabaseSource(args.Required("databases"));
        var prefix = args.Required("prefix");
        builder.Services.AddOutbox(o =>
            {
                o.LaneCount = 16;
                o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
                FleetEvent.Map(o);
            })
            .UsePostgreSqlDatabases(_ => source, o =>
            {
                o.EnsureSchemaOnStart = true;
                o.RefreshInterval = TimeSpan.FromSeconds(1);
            })
            .UseKafka(k => ChaosKafka.Configure(k, args.Required("bootstrap")))
            .AddPollingRelay(o =>
            {
                o.InstanceId = name + "-" + Environment.ProcessId;
                o.LeaseDuration = RelayRole.LeaseDuration;
                o.HeartbeatInterval = TimeSpan.FromSeconds(1);
                o.PollInterval = TimeSpan.FromSeconds(1);
            });
        using var host = builder.Build();
        return await RoleHost.RunAsync(host, stop);
    }
}
