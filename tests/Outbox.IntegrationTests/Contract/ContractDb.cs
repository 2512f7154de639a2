using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.Contract;

/// <summary>The application's DbContext in the contract tests: one table of aggregates, plus the outbox (UseOutbox).</summary>
public sealed class ContractDb(DbContextOptions<ContractDb> options) : DbContext(options)
{
    public const string CreateTableSql = "CREATE TABLE IF NOT EXISTS contract_aggregates (id text PRIMARY KEY, version integer NOT NULL)";

    public DbSet<ContractAggregate> Aggregates => Set<ContractAggregate>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<ContractAggregate>(e =>
        {
            e.ToTable("contract_aggregates");
            e.Property(a => a.Id).HasColumnName("id");
            e.Property(a => a.Version).HasColumnName("version");
        });
}
