using Outbox.ChaosTests.Orchestration;
using Outbox.ChaosTests.Roles;

namespace Outbox.ChaosTests;

/// <summary>
/// The chaos runner. <c>chaos</c> is the orchestrator (see <see cref="ChaosSettings"/> for its options); the other
/// commands are the roles it starts as separate processes. The xUnit tests of this assembly run it too.
/// </summary>
public static class Program
{
    public const string Usage = """
        usage: Outbox.ChaosTests chaos [--seconds N | --minutes M] [--seed S] [--relay polling|cdc|both]
                                       [--writers N] [--concurrency N] [--keys N] [--delay-ms N] [--quiet-seconds N]
                                       [--faults kill-relay,kill-consumer,brokers-down,postgres-restart,produce-errors,network-delay]
                                       [--kafka-debug CONTEXTS] [--relay-kafka-debug CONTEXTS] [--log-dir DIR] [--exit-on-stdin-eof]
               Outbox.ChaosTests writer|relay|cdc-relay|consumer --cs CS ... (started by 'chaos')
               Outbox.ChaosTests fleet-relay --databases FILE --bootstrap SERVERS --prefix P --name N (started by FleetRunTests)
        """;

    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        try
        {
            var rest = args[1..];
            return args[0] switch
            {
                "chaos" => await ChaosCommand.RunAsync(ChaosSettings.Parse(rest), Console.Out, Console.Error),
                "writer" => await WriterRole.RunAsync(RoleArguments.Parse(rest)),
                "relay" => await RelayRole.RunAsync(RoleArguments.Parse(rest)),
                "cdc-relay" => await CdcRelayRole.RunAsync(RoleArguments.Parse(rest)),
                "consumer" => await ConsumerRole.RunAsync(RoleArguments.Parse(rest)),
                "fleet-relay" => await FleetRelayRole.RunAsync(RoleArguments.Parse(rest)),
                _ => throw new UsageException($"Unknown command '{args[0]}'."),
            };
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
    }
}
