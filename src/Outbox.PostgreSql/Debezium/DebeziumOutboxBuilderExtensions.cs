using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Debezium;

namespace Outbox;

/// <summary>Registers Debezium mode.</summary>
public static class DebeziumOutboxBuilderExtensions
{
    /// <summary>
    /// Relays the outbox with Debezium instead of a relay in this process: writes are unchanged and nothing here
    /// publishes. Registers <see cref="DebeziumOptions"/> (validated at host start) and, unless turned off, creates the
    /// publication the connector reads when the host starts. Get the connector configuration from
    /// <see cref="DebeziumConnectorConfig.Create"/>; see docs/debezium.md.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException"><c>AddCdcRelay()</c> or <c>AddPollingRelay()</c> was called too: every event would be published twice.</exception>
    public static IOutboxBuilder UseDebezium(this IOutboxBuilder builder, Action<DebeziumOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        RelayModeRegistration.Register(services, RelayMode.Debezium);

        var options = services.AddOptions<DebeziumOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.PostConfigure<IServiceProvider>((o, sp) =>
        {
            if (string.IsNullOrWhiteSpace(o.ConnectionString))
            {
                o.ConnectionString = sp.GetService<IOptions<PostgreSqlOutboxOptions>>()?.Value.ConnectionString;
            }
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DebeziumOptions>, DebeziumOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DebeziumOptions>, DebeziumOptionsRulesValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DebeziumPublicationInitializer>());
        return builder;
    }
}
