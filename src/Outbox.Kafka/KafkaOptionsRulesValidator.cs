using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Outbox.Kafka;

/// <summary>Rules of <see cref="KafkaOptions"/> that data annotations cannot say.</summary>
internal sealed class KafkaOptionsRulesValidator : IValidateOptions<KafkaOptions>
{
    public ValidateOptionsResult Validate(string? name, KafkaOptions options)
    {
        var failures = new List<string>();
        if (options.Producer is { } producer)
        {
            if (string.IsNullOrWhiteSpace(options.BootstrapServers) && string.IsNullOrWhiteSpace(producer.BootstrapServers))
            {
                failures.Add("KafkaOptions.BootstrapServers is required (or set KafkaOptions.Producer.BootstrapServers).");
            }

            if (producer.EnableIdempotence == false)
            {
                failures.Add("KafkaOptions.Producer.EnableIdempotence must stay true: without it a retried batch can reorder or duplicate records of a key.");
            }

            if (producer.Acks is { } acks && acks != Acks.All)
            {
                failures.Add($"KafkaOptions.Producer.Acks must stay All (acks=all); got {acks}: rows are deleted only after every in-sync replica has them.");
            }
        }

        Check(options.BootstrapServers, "KafkaOptions.BootstrapServers");
        Check(options.Producer?.BootstrapServers, "KafkaOptions.Producer.BootstrapServers");
        Check(options.Consumer?.BootstrapServers, "KafkaOptions.Consumer.BootstrapServers");

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Check(string? servers, string option)
        {
            // Blank means "not set here" (the other settings may name the brokers; the check above wants one of them).
            if (!string.IsNullOrWhiteSpace(servers) && BootstrapServerList.Problem(servers) is { } problem)
            {
                failures.Add($"{option} '{servers}' is not a broker list librdkafka can use: {problem}. Expected host:port[,host:port...], for example broker1:9092,broker2:9092.");
            }
        }
    }
}
