using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Outbox.ChaosTests.Model;
using Outbox.Kafka;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>consumer --cs CS --bootstrap SERVERS --name NAME [--parent PID]</c>: one member of each of the two inbox consumer
/// groups, one handling a record per transaction and one batching up to 50.
/// </summary>
public static class ConsumerRole
{
    public const string SingleGroup = "chaos-single";
    public const string BatchedGroup = "chaos-batched";

    public static IReadOnlyList<string> Groups { get; } = [SingleGroup, BatchedGroup];

    public static async Task<int> RunAsync(RoleArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var name = args.Required("name");
        var cs = ConnectionStrings.WithApplicationName(args.Required("cs"), name);
        var stop = ParentWatch.Start(args.OptionalInt("parent"));
        var builder = RoleHost.CreateBuilder();
        var debug = args.Optional("kafka-debug");
        if (debug is not null)
        {
            builder.Logging.AddFilter("Outbox.Kafka.Consuming", LogLevel.Debug);
        }

        builder.Services.AddDbContext<ChaosDb>((sp, db) => db.UseNpgsql(cs).UseOutbox(sp));
        builder.Services.AddOutbox(ChaosEvent.Map)
            .UsePostgreSql(cs)
            .UseKafka(k =>
            {
                ChaosKafka.Configure(k, args.Required("bootstrap"));
                if (debug is not null)
                {
                    k.Consumer.Debug = debug;
                }
            })
            .AddConsumer<ChaosDb>(SingleGroup, c => c.Subscribe<ChaosEvent, EffectHandler>().Configure(Configure))
            .AddConsumer<ChaosDb>(BatchedGroup, c => c.Subscribe<ChaosEvent, EffectHandler>().Configure(o =>
            {
                Configure(o);
                o.MaxBatchSize = 50;
            }));
        using var host = builder.Build();
        return await RoleHost.RunAsync(host, stop);
    }

    private static void Configure(InboxConsumerOptions options)
    {
        options.InitialRetryDelay = TimeSpan.FromMilliseconds(50);
        options.MaxRetryDelay = TimeSpan.FromSeconds(2);
        options.ShutdownTimeout = TimeSpan.FromSeconds(5);
    }
}
