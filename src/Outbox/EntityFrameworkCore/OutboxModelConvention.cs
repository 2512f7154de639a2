using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// EF Core's hook for extensions that shape the model (<see cref="IConventionSetPlugin"/>): adds
/// <see cref="OutboxModelConvention"/> to the conventions of every context configured with <c>UseOutbox</c>. Unlike a
/// replaced <c>IModelCustomizer</c>, it composes with an application's or another extension's customizer.
/// </summary>
internal sealed class OutboxConventionSetPlugin(IDbContextOptions contextOptions) : IConventionSetPlugin
{
    public ConventionSet ModifyConventions(ConventionSet conventionSet)
    {
        if (contextOptions.FindExtension<OutboxDbContextOptionsExtension>() is { } extension)
        {
            conventionSet.ModelInitializedConventions.Add(new OutboxModelConvention(extension.Options));
        }

        return conventionSet;
    }
}

/// <summary>
/// Maps <see cref="OutboxMessage"/> when the model is initialized, before <c>OnModelCreating</c>, with the same columns
/// and indexes as <see cref="OutboxModel"/> (the fluent version for <c>ApplyOutbox</c>; a test compares both with the SQL
/// script). The configuration has data-annotation precedence: conventions cannot change it, the application's fluent
/// configuration can.
/// </summary>
internal sealed class OutboxModelConvention(OutboxOptions options) : IModelInitializedConvention
{
    private const bool Annotation = true;

    public void ProcessModelInitialized(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        var (schema, table) = OutboxModel.ValidatedNames(options);
        // Added as the application would add it (explicitly): EF's model clean-up removes entity types that only conventions
        // or data annotations added and no navigation reaches, which is what the outbox entity is.
        var model = (IMutableModel)modelBuilder.Metadata;
        var entity = (IConventionEntityType)(model.FindEntityType(typeof(OutboxMessage)) ?? model.AddEntityType(typeof(OutboxMessage)));
        var e = entity.Builder;
        e.ToTable(table, schema, Annotation);

        Column(e, nameof(OutboxMessage.Id), OutboxColumns.Id, "uuid", required: true).ValueGenerated(ValueGenerated.Never, Annotation);
        Column(e, nameof(OutboxMessage.AggregateType), OutboxColumns.AggregateType, "text", required: true);
        Column(e, nameof(OutboxMessage.AggregateId), OutboxColumns.AggregateId, "text", required: true);
        Column(e, nameof(OutboxMessage.Type), OutboxColumns.Type, "text", required: true);
        Column(e, nameof(OutboxMessage.Payload), OutboxColumns.Payload, "jsonb", required: true);
        Column(e, nameof(OutboxMessage.Lane), OutboxColumns.Lane, "integer");
        Column(e, nameof(OutboxMessage.CommitSequence), OutboxColumns.CommitSequence, "bigint");
        Column(e, nameof(OutboxMessage.CreatedAt), OutboxColumns.CreatedAt, "timestamp with time zone");
        Column(e, nameof(OutboxMessage.TraceParent), OutboxColumns.TraceParent, "text");
        Column(e, nameof(OutboxMessage.TraceState), OutboxColumns.TraceState, "text");
        Column(e, nameof(OutboxMessage.Attempts), OutboxColumns.Attempts, "integer");
        Column(e, nameof(OutboxMessage.LastError), OutboxColumns.LastError, "text");
        Column(e, nameof(OutboxMessage.NextAttemptAt), OutboxColumns.NextAttemptAt, "timestamp with time zone");
        Column(e, nameof(OutboxMessage.PublishedAt), OutboxColumns.PublishedAt, "timestamp with time zone");
        foreach (var relayColumn in OutboxModel.RelayWrittenProperties)
        {
            e.Property(typeof(OutboxMessage).GetProperty(relayColumn)!, Annotation)!.BeforeSave(PropertySaveBehavior.Ignore, Annotation);
        }

        e.PrimaryKey([nameof(OutboxMessage.Id)], Annotation)!.HasName(OutboxColumns.PrimaryKeyName(table), Annotation);
        e.HasIndex([nameof(OutboxMessage.Lane), nameof(OutboxMessage.CommitSequence)], Annotation)!
            .HasDatabaseName(OutboxColumns.LaneIndexName(table), Annotation)!
            .HasFilter(OutboxColumns.PublishedAt + " IS NULL", Annotation);
    }

    private static IConventionPropertyBuilder Column(IConventionEntityTypeBuilder entity, string property, string column, string type, bool required = false)
    {
        var builder = entity.Property(typeof(OutboxMessage).GetProperty(property)!, Annotation)
            ?? throw new OutboxConfigurationException($"EF Core could not map OutboxMessage.{property} of the outbox entity.");
        builder.HasColumnName(column, Annotation);
        builder.HasColumnType(type, Annotation);
        if (required)
        {
            builder.IsRequired(true, Annotation);
        }

        return builder;
    }
}
