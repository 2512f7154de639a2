using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Outbox;
using Outbox.EntityFrameworkCore;
using Outbox.Providers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the outbox.</summary>
public static class OutboxServiceCollectionExtensions
{
    /// <summary>
    /// Adds the outbox: options (validated at host start), the event registry, the EF Core interceptors that
    /// <c>UseOutbox</c> installs and the metrics services (<c>AddMetrics()</c>: the outbox's meters come from the
    /// container's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>). Calling it again only adds configuration.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Configures the options, typically the event mappings.</param>
    /// <returns>A builder that the store, transport and relay packages extend.</returns>
    public static IOutboxBuilder AddOutbox(this IServiceCollection services, Action<OutboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<OutboxOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsDataAnnotationsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsRulesValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new OutboxEventRegistry(sp.GetRequiredService<IOptions<OutboxOptions>>().Value.Mappings));
        services.TryAddSingleton(sp => new OutboxMessageFactory(
            sp.GetRequiredService<OutboxEventRegistry>(),
            sp.GetRequiredService<IOptions<OutboxOptions>>().Value,
            sp.GetRequiredService<TimeProvider>()));
        // The instruments are on meters from the container's IMeterFactory: they go away with the container, and a
        // test (or a second host in the process) observes its own.
        services.AddMetrics();
        services.TryAddSingleton<EnqueueTelemetry>();
        services.TryAddSingleton(sp => new OutboxRowFactory(sp.GetRequiredService<OutboxMessageFactory>(), sp.GetRequiredService<EnqueueTelemetry>()));
        services.TryAddSingleton<OutboxSaveChangesInterceptor>();
        services.TryAddSingleton<OutboxTransactionInterceptor>();
        return new OutboxBuilder(services);
    }
}
