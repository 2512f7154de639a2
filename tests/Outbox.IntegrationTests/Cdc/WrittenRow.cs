using NpgsqlTypes;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>A row a test wrote, with an upper bound of its commit's WAL position (read right after the commit).</summary>
public sealed record WrittenRow(Guid Id, string Key, int Seq, NpgsqlLogSequenceNumber CommittedBefore);
