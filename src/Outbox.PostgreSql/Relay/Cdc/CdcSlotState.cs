namespace Outbox.PostgreSql.Cdc;

/// <summary>The relay's own record of a slot it creates (table <c>&lt;messages&gt;_cdc_slots</c>).</summary>
internal enum CdcSlotState
{
    /// <summary>No record: the relay did not create the slot (or has not started to).</summary>
    None,

    /// <summary>Recorded before the slot is created: the slot exists, but its backlog may not have been captured.</summary>
    Creating,

    /// <summary>The rows the slot cannot see were moved to the backlog table in the slot's snapshot.</summary>
    Ready,
}
