using Microsoft.EntityFrameworkCore.Infrastructure;
using Outbox;
using Outbox.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Access to a context's outbox.</summary>
public static class OutboxDbContextExtensions
{
    /// <summary>Gets the outbox of this context: events added to it are written by the next <c>SaveChanges</c>.</summary>
    /// <param name="context">A context configured with <c>UseOutbox</c>.</param>
    /// <returns>The context's outbox.</returns>
    /// <exception cref="OutboxException">The context was not configured with <c>UseOutbox</c>.</exception>
    public static IOutbox Outbox(this DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = OutboxContextState.For(context);
        state.Registry ??= context.GetService<IDbContextOptions>().FindExtension<OutboxDbContextOptionsExtension>()?.Registry;
        return state;
    }
}
