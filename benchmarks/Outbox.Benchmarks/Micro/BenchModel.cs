using Microsoft.EntityFrameworkCore;

namespace Outbox.Benchmarks.Micro;

public sealed record AccountOpened(Guid AccountId, string Owner, decimal Balance, string Currency);

public sealed class Account : IHasDomainEvents
{
    private readonly List<object> _events = [];

    public Guid Id { get; set; }

    public string Owner { get; set; } = "";

    public decimal Balance { get; set; }

    public IReadOnlyCollection<object> DomainEvents => _events;

    public void Raise(object evt) => _events.Add(evt);

    public void RemoveDomainEvents(IReadOnlyCollection<object> events)
    {
        foreach (var e in events)
        {
            _events.Remove(e);
        }
    }
}

/// <summary>A row of the outbox's shape in an ordinary table: what an application would write by hand without the library.</summary>
public sealed class PlainEventRow
{
    public Guid Id { get; set; }

    public string AggregateType { get; set; } = "";

    public string AggregateId { get; set; } = "";

    public string Type { get; set; } = "";

    public string Payload { get; set; } = "";

    public int Lane { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public int Attempts { get; set; }
}

public sealed class BankDb(DbContextOptions<BankDb> options) : DbContext(options)
{
    public const string CreateTables = """
        CREATE SCHEMA IF NOT EXISTS bank;
        CREATE TABLE IF NOT EXISTS bank.accounts (id uuid PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
        CREATE TABLE IF NOT EXISTS bank.plain_events (
            id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL,
            payload jsonb NOT NULL, lane integer NOT NULL, created_at timestamp with time zone NOT NULL, attempts integer NOT NULL);
        """;

    public DbSet<Account> Accounts => Set<Account>();

    public DbSet<PlainEventRow> PlainEvents => Set<PlainEventRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Account>(e =>
        {
            e.ToTable("accounts", "bank");
            e.Property(a => a.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(a => a.Owner).HasColumnName("owner");
            e.Property(a => a.Balance).HasColumnName("balance");
            e.Ignore(a => a.DomainEvents);
        });
        modelBuilder.Entity<PlainEventRow>(e =>
        {
            e.ToTable("plain_events", "bank");
            e.Property(p => p.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(p => p.AggregateType).HasColumnName("aggregatetype");
            e.Property(p => p.AggregateId).HasColumnName("aggregateid");
            e.Property(p => p.Type).HasColumnName("type");
            e.Property(p => p.Payload).HasColumnName("payload").HasColumnType("jsonb");
            e.Property(p => p.Lane).HasColumnName("lane");
            e.Property(p => p.CreatedAt).HasColumnName("created_at");
            e.Property(p => p.Attempts).HasColumnName("attempts");
        });
    }
}
