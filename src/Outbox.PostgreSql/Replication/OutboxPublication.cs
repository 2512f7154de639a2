using Microsoft.Extensions.Logging;
using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Replication;

/// <summary>
/// The publication of the outbox table's inserts that the CDC relay and Debezium read: created when missing, checked
/// when it exists. <paramref name="publicationOption"/> is the setting that names it, for the messages.
/// </summary>
internal sealed class OutboxPublication(CdcStore store, ILogger logger, string publicationOption = "CdcRelayOptions.PublicationName")
{
    private CdcNames Names => store.Names;

    /// <summary>Creates the publication when it is missing, or checks that the existing one publishes the outbox table's inserts only.</summary>
    /// <exception cref="OutboxConfigurationException">The existing publication does not fit; the message names the fix.</exception>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        var publication = await store.ReadPublicationAsync(cancellationToken).ConfigureAwait(false);
        if (publication is null)
        {
            if (await store.CreatePublicationAsync(cancellationToken).ConfigureAwait(false))
            {
                Cdc.Log.PublicationCreated(logger, Names.PublicationName, Names.Tables.Messages);
                return;
            }

            publication = await store.ReadPublicationAsync(cancellationToken).ConfigureAwait(false)
                          ?? throw new OutboxException($"Publication '{Names.PublicationName}' vanished right after another process created it.");
        }

        Check(publication);
    }

    private void Check(CdcPublicationFacts publication)
    {
        if (!publication.AllTables && !publication.HasOutboxTable)
        {
            throw new OutboxConfigurationException(
                $"Publication '{Names.PublicationName}' ({publicationOption}) exists but does not publish the outbox table {Names.Tables.Messages}. " +
                $"Add it (ALTER PUBLICATION {Names.QuotedPublication} ADD TABLE {Names.Tables.Messages}) or choose another {publicationOption}.");
        }

        if (!publication.PublishesInsert || publication.PublishesUpdate || publication.PublishesDelete || publication.PublishesTruncate)
        {
            throw new OutboxConfigurationException(
                $"Publication '{Names.PublicationName}' ({publicationOption}) must publish inserts only: the outbox table's commit trigger " +
                "updates every row and acknowledged rows are deleted, and neither is an event. " +
                $"Fix it with ALTER PUBLICATION {Names.QuotedPublication} SET (publish = 'insert'), or choose another {publicationOption}.");
        }

        var others = publication.AllTables ? -1 : publication.TableCount - 1;
        if (others != 0)
        {
            Cdc.Log.PublicationHasOtherTables(logger, Names.PublicationName, others);
        }
    }
}
