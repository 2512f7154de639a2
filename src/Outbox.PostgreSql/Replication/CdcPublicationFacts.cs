namespace Outbox.PostgreSql.Replication;

/// <summary>The definition of an existing publication, as far as the relay cares.</summary>
internal sealed record CdcPublicationFacts(
    bool PublishesInsert,
    bool PublishesUpdate,
    bool PublishesDelete,
    bool PublishesTruncate,
    bool AllTables,
    bool HasOutboxTable,
    int TableCount);
