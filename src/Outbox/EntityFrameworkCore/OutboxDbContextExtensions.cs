using Outbox;
using Outbox.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Access to a context's outbox.</summary>
public static class OutboxDbContextExtensions
{
    /// <summary>Gets the outbox of this context: events added to it are written by the next <c>SaveChanges</c>.</summary>
    /// <param name="context">A context configured with <c>UseOutbox</c>.</param>
    /// <returns>The context's outbox.</returns>
    public static IOutbox Outbox(this DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return OutboxContextStates.Get(context);
    }
}
