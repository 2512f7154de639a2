using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Outbox;
using Outbox.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>EF Core configuration of the outbox.</summary>
public static class OutboxDbContextOptionsBuilderExtensions
{
    /// <summary>
    /// Records the events of tracked <see cref="IHasDomainEvents"/> entities and of <c>dbContext.Outbox()</c> in the
    /// outbox table during <c>SaveChanges</c>, in the same transaction, and adds the outbox table to the model.
    /// </summary>
    /// <param name="optionsBuilder">The context options.</param>
    /// <param name="serviceProvider">The application's services, where <c>AddOutbox()</c> registered the outbox.</param>
    /// <returns>The options builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOutbox()</c> was not called.</exception>
    public static DbContextOptionsBuilder UseOutbox(this DbContextOptionsBuilder optionsBuilder, IServiceProvider serviceProvider)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        ArgumentNullException.ThrowIfNull(serviceProvider);
        var interceptor = serviceProvider.GetService<OutboxSaveChangesInterceptor>()
            ?? throw new InvalidOperationException("UseOutbox needs the outbox services: call services.AddOutbox(...) at startup.");
        var options = serviceProvider.GetRequiredService<IOptions<OutboxOptions>>().Value;

        ((IDbContextOptionsBuilderInfrastructure)optionsBuilder).AddOrUpdateExtension(new OutboxDbContextOptionsExtension(options, interceptor.Registry));
        return optionsBuilder.AddInterceptors(interceptor, serviceProvider.GetRequiredService<OutboxTransactionInterceptor>());
    }
}
