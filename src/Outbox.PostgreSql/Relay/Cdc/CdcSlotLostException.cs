namespace Outbox.PostgreSql.Cdc;

/// <summary>The relay's slot was invalidated (<c>wal_status = lost</c>): the WAL it needed is gone. Never recreated silently.</summary>
internal sealed class CdcSlotLostException(string message) : OutboxException(message);
