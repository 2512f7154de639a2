namespace Outbox.PostgreSql;

/// <summary>Validated, quoted names of every outbox object in the database: the one place SQL identifiers come from.</summary>
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

        QuotedSchema = SqlIdentifier.Quote(Schema);
        Messages = SqlIdentifier.Qualified(Schema, options.MessagesTable);
        Lanes = SqlIdentifier.Qualified(Schema, options.LanesTable);
        DeadLetters = SqlIdentifier.Qualified(Schema, options.DeadLettersTable);
        Inbox = SqlIdentifier.Qualified(Schema, options.InboxTable);
        InboxOffsets = SqlIdentifier.Qualified(Schema, options.InboxOffsetsTable);
        CommitSequence = SqlIdentifier.Qualified(Schema, options.MessagesTable + "_commit_seq");
        CommitFunction = SqlIdentifier.Qualified(Schema, options.MessagesTable + "_on_commit");
        CommitTriggerName = options.MessagesTable + "_commit_seq";
        PrimaryKeyName = OutboxColumns.PrimaryKeyName(options.MessagesTable);
        LaneIndexName = OutboxColumns.LaneIndexName(options.MessagesTable);
        NotificationChannel = Schema + "." + options.MessagesTable;

        // Derived names stay within PostgreSQL's 63 bytes: the table name is at most 63, so cut it before the suffix.
        var stem = options.MessagesTable.Length > 50 ? options.MessagesTable[..50] : options.MessagesTable;
        CdcBacklog = SqlIdentifier.Qualified(Schema, stem + "_cdc_backlog");
        CdcSlots = SqlIdentifier.Qualified(Schema, stem + "_cdc_slots");
    }

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

    /// <summary>The CDC relay's rows that were in the outbox table when its slot was created (the stream does not have them).</summary>
    public string CdcBacklog { get; }

    /// <summary>The CDC relay's record of the slots it created and whether their backlog was captured.</summary>
    public string CdcSlots { get; }

    /// <summary>The <c>LISTEN</c>/<c>pg_notify</c> channel that wakes relays (a string value; quote it for LISTEN).</summary>
    public string NotificationChannel { get; }
}
