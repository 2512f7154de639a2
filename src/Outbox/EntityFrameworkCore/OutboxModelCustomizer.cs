using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Outbox.EntityFrameworkCore;

/// <summary>Adds the outbox entity to the model of every context configured with <c>UseOutbox</c>.</summary>
internal sealed class OutboxModelCustomizer(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
{
    public override void Customize(ModelBuilder modelBuilder, DbContext context)
    {
        base.Customize(modelBuilder, context);
        var extension = context.GetService<IDbContextOptions>().FindExtension<OutboxDbContextOptionsExtension>();
        if (extension is not null)
        {
            OutboxModel.Apply(modelBuilder, extension.Options);
        }
    }
}
