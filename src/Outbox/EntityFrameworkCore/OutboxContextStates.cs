using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;

namespace Outbox.EntityFrameworkCore;

/// <summary>The <see cref="OutboxContextState"/> of each live DbContext, collected with it.</summary>
internal static class OutboxContextStates
{
    private static readonly ConditionalWeakTable<DbContext, OutboxContextState> States = [];

    public static OutboxContextState Get(DbContext context) => States.GetValue(context, static _ => new OutboxContextState());

    public static OutboxContextState? Find(DbContext? context) =>
        context is not null && States.TryGetValue(context, out var state) ? state : null;
}
