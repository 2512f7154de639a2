using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Roles;
using Outbox.Kafka;
using Outbox.ChaosTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>Hosts built the way an application builds them, through the public API only.</summary>
public static class Hosts
{
    /// <summary>An application host: the chaos context with the outbox, PostgreSQL, Kafka, and whatever <paramref name="add"/> adds.</summary>
    public static IHost Build(
        ITestOutputHelper output,
        string connectionString,
        string bootstrapServers,
        Action<OutboxOptions> outbox,
        Action<IOutboxBuilder> add,
        Action<KafkaOptions>? kafka = null,
        LogCapture? capture = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "host", LogLevel.Trace));
        if (capture is not null)
        {
            builder.Logging.AddProvider(capture);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.None);
        builder.Services.AddDbContext<ChaosDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        var outboxBuilder = builder.Services.AddOutbox(outbox)
            .UsePostgreSql(connectionString)
            .UseKafka(k =>
            {
                ChaosKafka.Configure(k, bootstrapServers);
                kafka?.Invoke(k);
            });
        add(outboxBuilder);
        return builder.Build();
    }
}
