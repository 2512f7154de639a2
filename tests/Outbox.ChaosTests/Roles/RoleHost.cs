using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// What the long-running roles share: a host builder that logs to standard error, and the run loop that prints
/// <c>ready</c> once the host started and stops the host gracefully when the parent says so (or dies).
/// </summary>
public static class RoleHost
{
    /// <summary>The line a role prints on standard output once it runs.</summary>
    public const string ReadyLine = "ready";

    public static HostApplicationBuilder CreateBuilder()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        ConfigureLogging(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    public static void ConfigureLogging(ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(LogLevel.Warning);
        logging.AddFilter("Outbox", LogLevel.Information);

        // EF Core logs every failed command as an error; the roles and the library report what matters themselves.
        logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.None);
    }

    /// <summary>
    /// Runs a relay role: the outbox on PostgreSQL and Kafka with the chaos settings (<c>--cs</c>, <c>--bootstrap</c>,
    /// <c>--name</c>, optional <c>--parent</c> and <c>--kafka-debug</c>), and the relay that <paramref name="addRelay"/> adds.
    /// </summary>
    public static async Task<int> RunRelayAsync(RoleArguments args, Func<IOutboxBuilder, string, IOutboxBuilder> addRelay)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(addRelay);
        var name = args.Required("name");
        var stop = ParentWatch.Start(args.OptionalInt("parent"));
        var builder = CreateBuilder();
        var debug = args.Optional("kafka-debug");
        if (debug is not null)
        {
            builder.Logging.AddFilter("Outbox.Kafka.Publishing", LogLevel.Debug);
        }

        var outbox = builder.Services.AddOutbox(Model.ChaosEvent.Map)
            .UsePostgreSql(ConnectionStrings.WithApplicationName(args.Required("cs"), name))
            .UseKafka(k =>
            {
                ChaosKafka.Configure(k, args.Required("bootstrap"));
                if (debug is not null)
                {
                    k.Producer.Debug = debug;
                }
            });
        addRelay(outbox, name);
        using var host = builder.Build();
        return await RunAsync(host, stop);
    }

    public static async Task<int> RunAsync(IHost host, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(host);
        try
        {
            await host.StartAsync(stop);
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync("start failed: " + ex);
            return 3;
        }

        await Console.Out.WriteLineAsync(ReadyLine);
        await Console.Out.FlushAsync(CancellationToken.None);
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
        }

        // A stop that hangs must not keep the process (and its database connections) around.
        using var watchdog = new Timer(_ => Environment.Exit(4), null, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            await host.StopAsync(timeout.Token);
        }

        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }

        return 0;
    }
}
