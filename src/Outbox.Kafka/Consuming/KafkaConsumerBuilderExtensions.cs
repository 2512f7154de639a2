using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Outbox.Inbox;
using Outbox.Kafka;
using Outbox.Kafka.Consuming;
using Outbox.Providers;

namespace Outbox;

/// <summary>Registers inbox consumer groups that read Kafka.</summary>
public static class KafkaConsumerBuilderExtensions
{
    /// <summary>
    /// Adds a consumer group that handles events through the inbox: a hosted service reads the topics of the
    /// subscribed events' aggregate types and, per record, commits the inbox row, the consumed offset, the handlers'
    /// changes on <typeparamref name="TDbContext"/> and the outbox events they add in one transaction; a second hosted
    /// service deletes inbox rows older than <see cref="InboxConsumerOptions.InboxRetention"/>. Call it once per group;
    /// calling it again with the same group and context only adds subscriptions.
    /// </summary>
    /// <typeparam name="TDbContext">The context the handlers write with; registered with <c>AddDbContext</c> on
    /// PostgreSQL, in the database that holds the inbox tables.</typeparam>
    /// <param name="builder">The outbox builder, after <c>UseKafka</c> and <c>UsePostgreSql</c>.</param>
    /// <param name="groupId">The Kafka consumer group id; also the key of the inbox rows and stored offsets.</param>
    /// <param name="configure">Subscribes handlers (<see cref="ConsumerBuilderExtensions.Subscribe{TEvent, THandler}"/>) and sets options (<see cref="Configure"/>).</param>
    /// <returns>The outbox builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">The group is already added with another context type.</exception>
    public static IOutboxBuilder AddConsumer<TDbContext>(this IOutboxBuilder builder, string groupId, Action<IConsumerBuilder> configure)
        where TDbContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;

        var existing = services
            .Where(d => d.ServiceType == typeof(InboxConsumerRegistration) && d.ImplementationInstance is InboxConsumerRegistration r && r.GroupId == groupId)
            .Select(d => (InboxConsumerRegistration)d.ImplementationInstance!)
            .FirstOrDefault();
        if (existing is not null && existing.DbContextType != typeof(TDbContext))
        {
            throw new OutboxConfigurationException(
                $"Consumer group '{groupId}' is already added with {existing.DbContextType.Name}; a group handles events on one DbContext type.");
        }

        services.AddOptions<InboxConsumerOptions>(groupId).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InboxConsumerOptions>, ConsumerOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InboxConsumerOptions>, ConsumerOptionsRulesValidator>());
        configure(new ConsumerBuilder(groupId, services));
        services.TryAddSingleton<InboxTelemetry>();
        services.TryAddSingleton(sp => new InboxProgress(sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, InboxConsumerHealthProbe>());

        if (existing is null)
        {
            services.AddSingleton(new InboxConsumerRegistration(groupId, typeof(TDbContext)));

            // Not TryAddEnumerable: one hosted service per group, all of the same implementation type.
            services.AddKeyedSingleton(groupId, (sp, _) => CreateInboxConsumer(sp, groupId, typeof(TDbContext)));
            services.AddSingleton<IHostedService>(sp => new InboxConsumerHost(sp.GetRequiredKeyedService<InboxConsumer>(groupId)));
            services.AddSingleton<IHostedService>(sp =>
            {
                var options = sp.GetRequiredService<IOptionsMonitor<InboxConsumerOptions>>().Get(groupId);
                var store = sp.GetService<IInboxStore>()
                    ?? throw new OutboxConfigurationException($"Consumer group '{groupId}' needs an inbox store: call UsePostgreSql(...) or UsePostgreSqlDatabases(...) on the outbox builder.");
                return new InboxCleanupService(
                    sp.GetRequiredService<IServiceScopeFactory>(),
                    store,
                    groupId,
                    typeof(TDbContext),
                    options.InboxRetention,
                    options.CleanupInterval,
                    sp.GetService<TimeProvider>() ?? TimeProvider.System,
                    sp.GetService<ILoggerFactory>()?.CreateLogger("Outbox.Inbox.InboxCleanupService") ?? NullLogger.Instance,
                    TenantRoutingOf(sp, groupId));
            });
        }

        return builder;
    }

    /// <summary>Builds the consumer of one group from the registered services (when the host resolves its hosted services).</summary>
    private static InboxConsumer CreateInboxConsumer(IServiceProvider services, string group, Type dbContextType)
    {
        var options = services.GetRequiredService<IOptionsMonitor<InboxConsumerOptions>>().Get(group);
        var kafkaOptions = services.GetService<IOptions<KafkaOptions>>()?.Value
            ?? throw new OutboxConfigurationException($"Consumer group '{group}' needs the Kafka transport: call UseKafka(...) on the outbox builder.");
        var outboxOptions = services.GetRequiredService<IOptions<OutboxOptions>>().Value;
        var store = services.GetService<IInboxStore>()
            ?? throw new OutboxConfigurationException($"Consumer group '{group}' needs an inbox store: call UsePostgreSql(...) or UsePostgreSqlDatabases(...) on the outbox builder.");
        var subscriptions = services.GetRequiredService<IOptionsMonitor<InboxSubscriptions>>().Get(group);
        var routing = TenantRoutingOf(services, group);
        var routes = new InboxRoutes(group, subscriptions.Items, services.GetRequiredService<OutboxEventRegistry>(), outboxOptions, routing?.HeaderName);
        using (var scope = services.CreateScope())
        {
            if (scope.ServiceProvider.GetService(dbContextType) is not DbContext)
            {
                throw new OutboxConfigurationException(
                    $"Consumer group '{group}' handles events on {dbContextType.Name}, which is not registered: call services.AddDbContext<{dbContextType.Name}>(...).");
            }
        }

        var consumerConfig = ConsumerClientConfig.CreateConsumer(kafkaOptions, group);
        var timeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var deadLetters = new KafkaDeadLetterPublisher(kafkaOptions, options.DeadLetterTopicTemplate);
        var concurrency = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        var settings = new InboxSettings
        {
            ConsumerGroup = group,
            DbContextType = dbContextType,
            MaxAttempts = options.MaxAttempts,
            InitialRetryDelay = options.InitialRetryDelay,
            MaxRetryDelay = options.MaxRetryDelay,
        };
        var telemetry = services.GetRequiredService<InboxTelemetry>();
        var processor = new InboxProcessor(
            services.GetRequiredService<IServiceScopeFactory>(),
            store,
            deadLetters,
            settings,
            timeProvider,
            telemetry,
            loggerFactory?.CreateLogger("Outbox.Inbox.InboxProcessor") ?? NullLogger.Instance,
            concurrency,
            routing);
        return new InboxConsumer(
            group,
            dbContextType,
            options,
            consumerConfig,
            routes,
            store,
            deadLetters,
            processor,
            concurrency,
            services.GetRequiredService<InboxProgress>(),
            telemetry,
            services.GetRequiredService<IServiceScopeFactory>(),
            loggerFactory?.CreateLogger("Outbox.Kafka.Consuming.InboxConsumerHost") ?? NullLogger.Instance);
    }

    /// <summary>The group's tenant routing when <c>RouteByTenant</c> was called, checked; otherwise <see langword="null"/>.</summary>
    /// <exception cref="OutboxConfigurationException">A callback is missing or the header name is empty.</exception>
    internal static InboxTenantRouting? TenantRoutingOf(IServiceProvider services, string group)
    {
        var routing = services.GetRequiredService<IOptionsMonitor<InboxTenantRouting>>().Get(group);
        if (!routing.Enabled)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(routing.HeaderName))
        {
            throw new OutboxConfigurationException($"Consumer group '{group}' routes by tenant with an empty InboxTenantRouting.HeaderName: name the header that carries the tenant (the default is '{InboxTenantRouting.DatabaseHeader}').");
        }

        if (routing.UseTenant is null)
        {
            throw new OutboxConfigurationException($"Consumer group '{group}' routes by tenant without InboxTenantRouting.UseTenant: set the callback that points a service scope at a tenant's database.");
        }

        if (routing.ListTenants is null)
        {
            throw new OutboxConfigurationException($"Consumer group '{group}' routes by tenant without InboxTenantRouting.ListTenants: set the callback that lists the tenants (the inbox cleanup runs in each tenant's database).");
        }

        return routing;
    }

    /// <summary>Sets the options of this consumer group (named options: the name is the group id).</summary>
    /// <param name="builder">The consumer builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IConsumerBuilder Configure(this IConsumerBuilder builder, Action<InboxConsumerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(builder.GroupId, configure);
        return builder;
    }
}
