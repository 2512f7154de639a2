namespace Outbox.Benchmarks.Macro;

/// <summary>Does nothing but count, and check that each account's events arrive in order.</summary>
internal sealed class NoOpHandler(InboxHandlerCounters counters) : IInboxHandler<BenchEvent>
{
    public Task HandleAsync(BenchEvent evt, MessageContext context, CancellationToken cancellationToken)
    {
        counters.Handled(evt);
        return Task.CompletedTask;
    }
}
