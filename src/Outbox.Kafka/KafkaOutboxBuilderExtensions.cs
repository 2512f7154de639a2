using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Outbox.Kafka;
using Outbox.Kafka.Publishing;
using Outbox.Providers;

namespace Outbox;

/// <summary>Registers the Kafka transport.</summary>
public static class KafkaOutboxBuilderExtensions
{
    /// <summary>
    /// Uses Apache Kafka as the broker: registers <see cref="KafkaOptions"/> (validated at host start) and the
    /// idempotent publisher that the relays send outbox rows through. Calling it again only adds configuration.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="configure">Configures the options: at least <see cref="KafkaOptions.BootstrapServers"/>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IOutboxBuilder UseKafka(this IOutboxBuilder builder, Action<KafkaOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.AddOptions<KafkaOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaOptions>, KafkaOptionsRulesValidator>());
        services.TryAddSingleton<PublishTelemetry>();
        services.TryAddSingleton<IOutboxPublisher>(sp => new KafkaOutboxPublisher(
            sp.GetRequiredService<IOptions<KafkaOptions>>().Value,
            sp.GetRequiredService<IOptions<OutboxOptions>>().Value,
            sp.GetRequiredService<PublishTelemetry>(),
            sp.GetService<ILogger<KafkaOutboxPublisher>>() ?? NullLogger<KafkaOutboxPublisher>.Instance,
            sp.GetService<IOptions<PublisherDefaults>>()?.Value));
        return builder;
    }
}
