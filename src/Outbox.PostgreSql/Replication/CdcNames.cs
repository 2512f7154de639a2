using System.Text.RegularExpressions;

namespace Outbox.PostgreSql.Replication;

/// <summary>Validated, quoted names of the database objects of the CDC relay: the one place its SQL identifiers come from.</summary>
internal sealed partial class CdcNames
{
    public CdcNames(OutboxOptions outboxOptions, string slotName, string publicationName, string slotOption = "CdcRelayOptions.SlotName", string publicationOption = "CdcRelayOptions.PublicationName")
    {
        Tables = new OutboxTableNames(outboxOptions);
        if (!IsValidSlotName(slotName))
        {
            throw new OutboxConfigurationException(
                $"{slotOption} must be a replication slot name (lower-case letters, digits and '_', at most 63 characters); got '{slotName}'.");
        }

        SlotName = slotName;
        PublicationName = SqlIdentifier.Validate(publicationName, publicationOption);
        QuotedPublication = SqlIdentifier.Quote(publicationName);
        Schema = Tables.Schema;
        MessagesTable = Tables.MessagesTableName;

        BacklogTable = Tables.CdcBacklog;
        SlotsTable = Tables.CdcSlots;
    }

    public OutboxTableNames Tables { get; }

    public string SlotName { get; }

    public string PublicationName { get; }

    public string QuotedPublication { get; }

    /// <summary>The schema of the outbox table, unquoted (as the replication stream reports it).</summary>
    public string Schema { get; }

    /// <summary>The outbox table, unquoted (as the replication stream reports it).</summary>
    public string MessagesTable { get; }

    /// <summary>The outbox table, qualified and quoted.</summary>
    public string Messages => Tables.Messages;

    /// <summary>Rows that were in the outbox table when the slot was created: the stream does not have them.</summary>
    public string BacklogTable { get; }

    /// <summary>Which slots the relay created and whether their backlog was captured.</summary>
    public string SlotsTable { get; }

    /// <summary>PostgreSQL accepts lower-case letters, digits and underscores in slot names, at most NAMEDATALEN - 1 bytes.</summary>
    public static bool IsValidSlotName(string? name) => name is not null && SlotNamePattern().IsMatch(name);

    [GeneratedRegex(@"\A[a-z0-9_]{1,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SlotNamePattern();
}
