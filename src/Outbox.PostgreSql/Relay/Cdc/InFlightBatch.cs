using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>A batch formed by the publisher whose results the session has not settled yet.</summary>
/// <param name="rows">The rows, in stream order.</param>
/// <param name="actions">What was done with each row, aligned with <paramref name="rows"/>.</param>
/// <param name="results">The delivery results of the rows handed over (<see cref="CdcRowAction.Send"/>), in order.</param>
/// <param name="refused">Whether the producer refused a row outright (the later rows were not attempted).</param>
/// <param name="startedAt">When the batch was formed (a <see cref="TimeProvider"/> timestamp), for the batch duration metric.</param>
internal sealed class InFlightBatch(List<CdcRow> rows, CdcRowAction[] actions, Task<PublishResult[]> results, bool refused, long startedAt = 0)
{
    /// <summary>Gets when the batch was formed (a <see cref="TimeProvider"/> timestamp).</summary>
    public long StartedAt { get; } = startedAt;

    /// <summary>Gets the rows, in stream order.</summary>
    public List<CdcRow> Rows { get; } = rows;

    /// <summary>Gets what was done with each row, aligned with <see cref="Rows"/>.</summary>
    public CdcRowAction[] Actions { get; } = actions;

    /// <summary>Gets the delivery results of the rows sent, in order.</summary>
    public Task<PublishResult[]> Results { get; } = results;

    /// <summary>Gets whether the producer refused a row outright.</summary>
    public bool Refused { get; } = refused;

    /// <summary>Gets or sets the rows the settler gives back to the publisher (not attempted behind a refused row): they go first in the next batch.</summary>
    public List<CdcRow>? CarryOver { get; set; }

    /// <summary>Gets a task that completes once the session settled (or gave up on) this batch.</summary>
    public TaskCompletionSource Settled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
