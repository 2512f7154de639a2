using Outbox;
using Outbox.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Adds the outbox table to an EF Core model by hand (<c>UseOutbox</c> does it automatically).</summary>
public static class OutboxModelBuilderExtensions
{
    /// <summary>Maps <see cref="OutboxMessage"/> to the outbox table, with the same columns and indexes as the SQL script.</summary>
    /// <param name="modelBuilder">The model builder of <c>OnModelCreating</c>.</param>
    /// <param name="options">The outbox options; the defaults when <see langword="null"/>.</param>
    /// <returns>The model builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public static ModelBuilder ApplyOutbox(this ModelBuilder modelBuilder, OutboxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        OutboxModel.Apply(modelBuilder, options ?? new OutboxOptions());
        return modelBuilder;
    }
}
