using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>A batch handed to the producer whose results the session has not settled yet.</summary>
internal sealed class InFlightBatch(List<CdcRow> rows, List<OutboxMessage> messages, Task<PublishResult[]> results)
{
    /// <summary>Gets the rows, in stream order.</summary>
    public List<CdcRow> Rows { get; } = rows;

    /// <summary>Gets the rows' messages, aligned with <see cref="Rows"/>.</summary>
    public List<OutboxMessage> Messages { get; } = messages;

    /// <summary>Gets the delivery results, aligned with <see cref="Rows"/>.</summary>
    public Task<PublishResult[]> Results { get; } = results;

    /// <summary>Gets a task that completes once the session settled (or gave up on) this batch.</summary>
    public TaskCompletionSource Settled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
