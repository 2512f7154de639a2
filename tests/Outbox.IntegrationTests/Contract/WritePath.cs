namespace Outbox.IntegrationTests.Contract;

/// <summary>The two ways an application writes events: EF Core's SaveChanges, or OutboxWriter on its own connection.</summary>
public enum WritePath
{
    EfCore,
    OutboxWriter,
}
