namespace Outbox.PostgreSql;

/// <summary>Validated, quoted names of every outbox table and derived object in the database: the one place table names come from
/// (the CDC relay's slot and publication, which are not tables, are in <see cref="Replication.CdcNames"/>).
/// Every derived name fits PostgreSQL's 63 bytes (<see cref="DerivedObjectNames"/>), or the constructor throws.</summary>
internal sealed class OutboxTableNames
{
    public OutboxTableNames(OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Schema = SqlIdentifier.Validate(options.Schema, "OutboxOptions.Schema");
        MessagesTableName = SqlIdentifier.Validate(options.MessagesTable, "OutboxOptions.MessagesTable");
        SqlIdentifier.Validate(options.LanesTable, "OutboxOptions.LanesTable");
        SqlIdentifier.Validate(options.DeadLettersTable, "OutboxOptions.DeadLettersTable");
        SqlIdentifier.Validate(options.InboxTable, "OutboxOptions.InboxTable");
        SqlIdentifier.Validate(options.InboxOffsetsTable, "OutboxOptions.InboxOffsetsTable");
        if (DerivedObjectNames.Problems(options) is [_, ..] problems)
        {
            throw new OutboxConfigurationException(string.Join(" ", problems));
        }

        QuotedSchema = SqlIdentifier.Quote(Schema);
        Messages = SqlIdentifier.Qualified(Schema, options.MessagesTable);
        Lanes = SqlIdentifier.Qualified(Schema, options.LanesTable);
        DeadLetters = SqlIdentifier.Qualified(Schema, options.DeadLettersTable);
        Inbox = SqlIdentifier.Qualified(Schema, options.InboxTable);
        InboxOffsets = SqlIdentifier.Qualified(Schema, options.InboxOffsetsTable);
        CommitSequence = SqlIdentifier.Qualified(Schema, DerivedObjectNames.CommitSequence(options.MessagesTable));
        CommitFunction = SqlIdentifier.Qualified(Schema, DerivedObjectNames.CommitFunction(options.MessagesTable));
        CommitTriggerName = DerivedObjectNames.CommitTrigger(options.MessagesTable);
        PrimaryKeyName = DerivedObjectNames.PrimaryKey(options.MessagesTable);
        LaneIndexName = DerivedObjectNames.LaneIndex(options.MessagesTable);
        InboxHandledAtIndexName = DerivedObjectNames.InboxHandledAtIndex(options.InboxTable);
        InboxParked = SqlIdentifier.Qualified(Schema, DerivedObjectNames.InboxParked(options.InboxTable));
        Instances = SqlIdentifier.Qualified(Schema, DerivedObjectNames.Instances(options.LanesTable));
        NotificationChannel = DerivedObjectNames.NotificationChannel(Schema, options.MessagesTable);
        CdcBacklog = SqlIdentifier.Qualified(Schema, DerivedObjectNames.CdcBacklog(options.MessagesTable));
        CdcSlots = SqlIdentifier.Qualified(Schema, DerivedObjectNames.CdcSlots(options.MessagesTable));
        ParkedKeys = SqlIdentifier.Qualified(Schema, DerivedObjectNames.ParkedKeys(options.MessagesTable));
    }

    /// <summary>The relays' parked keys (a failed event's key: it and every later event of it wait), qualified and quoted.</summary>
    public string ParkedKeys { get; }

    public string Schema { get; }

    public string MessagesTableName { get; }

    public string QuotedSchema { get; }

    public string Messages { get; }

    public string Lanes { get; }

    public string DeadLetters { get; }

    public string Inbox { get; }

    public string InboxOffsets { get; }

    public string CommitSequence { get; }

    public string CommitFunction { get; }

    public string CommitTriggerName { get; }

    public string PrimaryKeyName { get; }

    public string LaneIndexName { get; }

    /// <summary>The index of the inbox table on <c>handled_at</c> (unquoted).</summary>
    public string InboxHandledAtIndexName { get; }

    /// <summary>The inbox's parked records (heads and the records held behind them), qualified and quoted.</summary>
    public string InboxParked { get; }

    /// <summary>The polling relay's table of live instances, qualified and quoted.</summary>
    public string Instances { get; }

    /// <summary>The CDC relay's rows that were in the outbox table when its slot was created (the stream does not have them).</summary>
    public string CdcBacklog { get; }

    /// <summary>The CDC relay's record of the slots it created and whether their backlog was captured.</summary>
    public string CdcSlots { get; }

    /// <summary>The <c>LISTEN</c>/<c>pg_notify</c> channel that wakes relays (a string value; quote it for LISTEN).</summary>
    public string NotificationChannel { get; }
}
