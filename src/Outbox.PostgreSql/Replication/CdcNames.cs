using System.Text.RegularExpressions;

namespace Outbox.PostgreSql.Replication;

/// <summary>
/// The validated names of the CDC relay's own server objects: its replication slot and its publication. Every table
/// name (the outbox table, the CDC backlog and slots tables) comes from <see cref="Tables"/>, i.e. from
/// <see cref="OutboxTableNames"/>, the one place table names come from.
/// </summary>
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
    }

    /// <summary>The outbox's table names (validated, quoted).</summary>
    public OutboxTableNames Tables { get; }

    public string SlotName { get; }

    public string PublicationName { get; }

    public string QuotedPublication { get; }

    /// <summary>PostgreSQL accepts lower-case letters, digits and underscores in slot names, at most NAMEDATALEN - 1 bytes.</summary>
    public static bool IsValidSlotName(string? name) => name is not null && SlotNamePattern().IsMatch(name);

    [GeneratedRegex(@"\A[a-z0-9_]{1,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SlotNamePattern();
}
