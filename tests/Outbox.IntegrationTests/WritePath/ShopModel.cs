using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.WritePath;

public sealed record AccountOpened(Guid AccountId, string Name);

public sealed record AccountRenamed(Guid AccountId, string Name, int Sequence);

public sealed record NotMapped(int Value);

public sealed record BigEvent(string Key, string Blob);

public sealed class Account : IHasDomainEvents
{
    private readonly List<object> _events = [];

    public Guid Id { get; set; }

    public string Name { get; set; } = "";

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

/// <summary>A plain row, used where a test needs a second table.</summary>
public sealed class AuditRow
{
    public long Id { get; set; }

    public string Text { get; set; } = "";
}

public sealed class ShopDb(DbContextOptions<ShopDb> options) : DbContext(options)
{
    public DbSet<Account> Accounts => Set<Account>();

    public DbSet<AuditRow> Audits => Set<AuditRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Account>(e =>
        {
            e.ToTable("accounts");
            e.Property(a => a.Id).HasColumnName("id");
            e.Property(a => a.Name).HasColumnName("name");
            e.HasIndex(a => a.Name).IsUnique();
            e.Ignore(a => a.DomainEvents);
        });
        modelBuilder.Entity<AuditRow>(e =>
        {
            e.ToTable("audits");
            e.Property(a => a.Id).HasColumnName("id");
            e.Property(a => a.Text).HasColumnName("text");
        });
    }
}
