namespace Outbox;

/// <summary>
/// The names of database objects the outbox derives from <see cref="OutboxOptions"/> (sequence, trigger, function,
/// indexes, the <c>pg_notify</c> channel, the tables of the relays): the one place they are made, and the check that
/// each fits PostgreSQL's 63 bytes. PostgreSQL cuts a longer name silently, so a derived name that is too long names
/// another object than the code looks for (the table's own name, a trigger the relay then reports missing), and
/// <c>pg_notify</c> refuses a channel name that long, failing every commit.
/// </summary>
internal static class DerivedObjectNames
{
    // The CDC tables cut the table name before their suffix (kept as it was: existing databases have these names).
    private const int CdcStemLength = 50;

    public static string CommitSequence(string messagesTable) => messagesTable + "_commit_seq";

    public static string CommitTrigger(string messagesTable) => messagesTable + "_commit_seq";

    public static string CommitFunction(string messagesTable) => messagesTable + "_on_commit";

    public static string PrimaryKey(string messagesTable) => OutboxColumns.PrimaryKeyName(messagesTable);

    public static string LaneIndex(string messagesTable) => OutboxColumns.LaneIndexName(messagesTable);

    /// <summary>The <c>LISTEN</c>/<c>pg_notify</c> channel that wakes polling relays: <c>schema.table</c>.</summary>
    public static string NotificationChannel(string schema, string messagesTable) => schema + "." + messagesTable;

    public static string Instances(string lanesTable) => lanesTable + "_instances";

    public static string InboxHandledAtIndex(string inboxTable) => "ix_" + inboxTable + "_handled_at";

    /// <summary>The inbox's table of parked records (a record that failed for good and the records of its key held behind it).</summary>
    public static string InboxParked(string inboxTable) => inboxTable + "_parked";

    public static string CdcBacklog(string messagesTable) => CdcStem(messagesTable) + "_cdc_backlog";

    /// <summary>The relays' parked keys: a key whose event failed, held back with every later event of it.</summary>
    public static string ParkedKeys(string messagesTable) => messagesTable + "_parked";

    public static string CdcSlots(string messagesTable) => CdcStem(messagesTable) + "_cdc_slots";

    /// <summary>
    /// Every derived name that is longer than PostgreSQL allows, as messages naming the option to shorten and its
    /// longest valid length. Call it after the options' own identifiers are known to be valid.
    /// </summary>
    public static List<string> Problems(OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        var table = options.MessagesTable;

        // Per option, the longest derived name decides its limit: report that one only.
        Check(nameof(OutboxOptions.MessagesTable), table,
            (LaneIndex(table), "the outbox table's lane index"),
            (CommitSequence(table), "the commit-order sequence and trigger"),
            (CommitFunction(table), "the commit-order trigger function"),
            (PrimaryKey(table), "the outbox table's primary key"),
            (CdcBacklog(table), "the CDC relay's backlog table"),
            (CdcSlots(table), "the CDC relay's slots table"),
            (ParkedKeys(table), "the relays' parked-keys table"));
        Check(nameof(OutboxOptions.LanesTable), options.LanesTable, (Instances(options.LanesTable), "the polling relay's instances table"));
        Check(nameof(OutboxOptions.InboxTable), options.InboxTable, (InboxHandledAtIndex(options.InboxTable), "the inbox table's handled_at index"),
            (InboxParked(options.InboxTable), "the inbox's parked records table"));

        var channel = NotificationChannel(options.Schema ?? "", table ?? "");
        var channelBytes = SqlIdentifier.ByteCount(channel);
        if (channelBytes > SqlIdentifier.MaxBytes)
        {
            problems.Add(
                $"OutboxOptions.Schema and OutboxOptions.MessagesTable together name the pg_notify channel that wakes polling relays, " +
                $"'{channel}' ({channelBytes} bytes); PostgreSQL refuses channel names over {SqlIdentifier.MaxBytes} bytes, which would fail every commit. " +
                $"Shorten the schema or the table name: their lengths may add up to at most {SqlIdentifier.MaxBytes - 1} bytes.");
        }

        return problems;

        void Check(string option, string value, params (string Name, string What)[] derived)
        {
            var longest = derived.MaxBy(d => SqlIdentifier.ByteCount(d.Name));
            var bytes = SqlIdentifier.ByteCount(longest.Name);
            if (bytes > SqlIdentifier.MaxBytes)
            {
                var limit = SqlIdentifier.MaxBytes - (bytes - SqlIdentifier.ByteCount(value ?? ""));
                problems.Add(
                    $"OutboxOptions.{option} '{value}' is too long: the name of {longest.What} derived from it, '{longest.Name}', has {bytes} bytes " +
                    $"and PostgreSQL names have at most {SqlIdentifier.MaxBytes} (it would cut the name silently). Use at most {limit} characters.");
            }
        }
    }

    private static string CdcStem(string messagesTable) =>
        messagesTable.Length > CdcStemLength ? messagesTable[..CdcStemLength] : messagesTable;
}
