using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>What settling one batch decided (see <see cref="CdcAcknowledger.SettleAsync"/>).</summary>
internal sealed class CdcBatchOutcome
{
    /// <summary>Gets how many leading rows are settled: done (acknowledged), held or skipped.</summary>
    public required int Settled { get; init; }

    /// <summary>Gets the ids of the settled rows that are done, to delete from the outbox table.</summary>
    public required List<Guid> Deletes { get; init; }

    /// <summary>Gets the rows after <see cref="Settled"/>, when they were not attempted behind a refused row (sent again next).</summary>
    public required List<CdcRow>? CarryOver { get; init; }

    /// <summary>Gets the error of a transient failure (the broker or the network): the session ends and streams again later.</summary>
    public required string? TransientError { get; init; }

    /// <summary>Gets the settlement of the rows sent whose key was not held, for logs and metrics.</summary>
    public required BatchSettlement Settlement { get; init; }

    /// <summary>Gets the messages <see cref="Settlement"/> indexes.</summary>
    public required List<OutboxRecord> SettledMessages { get; init; }

    /// <summary>Gets what the parked-keys table recorded for each of <see cref="BatchSettlement.Failures"/>.</summary>
    public required List<KeyFailureOutcome> Outcomes { get; init; }
}
