namespace Outbox.PostgreSql.Cdc;

/// <summary>Another relay streams from the slot (SQLSTATE 55006) or is setting it up: this one waits as a standby.</summary>
internal sealed class CdcSlotBusyException : OutboxException
{
    public CdcSlotBusyException(string message)
        : base(message)
    {
    }

    public CdcSlotBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
