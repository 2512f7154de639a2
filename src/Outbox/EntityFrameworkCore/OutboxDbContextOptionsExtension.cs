using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;

namespace Outbox.EntityFrameworkCore;

/// <summary>Carries the outbox options into EF Core's internal services and adds the outbox model's convention plugin.</summary>
internal sealed class OutboxDbContextOptionsExtension(OutboxOptions options, OutboxEventRegistry registry) : IDbContextOptionsExtension
{
    private ExtensionInfo? _info;

    public OutboxOptions Options { get; } = options;

    /// <summary>Gets the event mappings of the application that configured this context.</summary>
    public OutboxEventRegistry Registry { get; } = registry;

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
    {
        // EF Core's hook for extensions that shape the model: composes with any IModelCustomizer of the application.
        new EntityFrameworkServicesBuilder(services).TryAdd<IConventionSetPlugin, OutboxConventionSetPlugin>();

        // One state per context instance; EF resets it when a pooled context goes back to its pool.
        services.AddScoped<OutboxContextState>();
        services.AddScoped<IResettableService>(sp => sp.GetRequiredService<OutboxContextState>());
    }

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class ExtensionInfo(OutboxDbContextOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        private OutboxOptions Options => ((OutboxDbContextOptionsExtension)Extension).Options;

        public override bool IsDatabaseProvider => false;

        public override string LogFragment => "using Outbox ";

        // The options shape the model, so contexts with different options need different internal service providers.
        public override int GetServiceProviderHashCode() => HashCode.Combine(Options.Schema, Options.MessagesTable);

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) =>
            other is ExtensionInfo o && o.Options.Schema == Options.Schema && o.Options.MessagesTable == Options.MessagesTable;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) =>
            debugInfo["Outbox:Table"] = Options.Schema + "." + Options.MessagesTable;
    }
}
