using Outbox.Providers;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// A row the CDC relay publishes, with the commit position of the transaction that inserted it. The pair identifies
/// one insert: a stream restarted inside a transaction delivers its rows again with the same position, while a row
/// inserted again later with the same id (a released key's events, a replayed dead letter) comes with the position of
/// its new transaction.
/// </summary>
/// <param name="Message">The row.</param>
/// <param name="CommitLsn">
/// The position of the inserting transaction's commit record (pgoutput's final LSN of the transaction), or
/// <see cref="Backlog"/> for a row read from the backlog table (committed before the slot, so never in the stream).
/// </param>
/// <param name="Bytes">The payload's size in bytes, taken from the session's byte budget while the row is not settled.</param>
/// <param name="Xid">The inserting transaction's id (32 bits, as pgoutput sends it); 0 for backlog rows.</param>
internal readonly record struct CdcRow(OutboxRecord Message, ulong CommitLsn, int Bytes = 0, uint Xid = 0)
{
    /// <summary>The position given to backlog rows: no transaction of the stream commits at 0.</summary>
    public const ulong Backlog = 0;

    /// <summary>Gets the row's key (aggregate type, aggregate id).</summary>
    public (string Type, string Id) Key => (Message.AggregateType, Message.AggregateId);
}
