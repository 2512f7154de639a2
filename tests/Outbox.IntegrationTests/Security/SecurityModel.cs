using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.Security;

/// <summary>An event the least-privilege test writes, relays and handles.</summary>
public sealed record AccountOpened(string AccountId, int Sequence);

/// <summary>The application's own row the writer changes with its events.</summary>
public sealed class Account
{
    public string Id { get; set; } = "";

    public int Sequence { get; set; }
}

/// <summary>One row per handled event (the consumer's effect).</summary>
public sealed class HandledEvent
{
    public string EventId { get; set; } = "";

    public string AccountId { get; set; } = "";
}

/// <summary>The application's context: its tables live in schema <c>app</c>, which the test creates with SQL.</summary>
public sealed class SecurityDb(DbContextOptions<SecurityDb> options) : DbContext(options)
{
    public DbSet<Account> Accounts => Set<Account>();

    public DbSet<HandledEvent> Handled => Set<HandledEvent>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Account>(e =>
        {
            e.ToTable("accounts", "app");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.Sequence).HasColumnName("sequence");
        });
        modelBuilder.Entity<HandledEvent>(e =>
        {
            e.ToTable("handled", "app");
            e.HasKey(x => x.EventId);
            e.Property(x => x.EventId).HasColumnName("event_id");
            e.Property(x => x.AccountId).HasColumnName("account_id");
        });
    }
}

/// <summary>Records each event once, in the consumer's transaction; refuses the events of <see cref="RefusedAccount"/>.</summary>
public sealed class AccountOpenedHandler(SecurityDb db) : IInboxHandler<AccountOpened>
{
    public const string RefusedAccount = "poison";

    public Task HandleAsync(AccountOpened evt, MessageContext context, CancellationToken cancellationToken)
    {
        if (evt.AccountId == RefusedAccount)
        {
            throw new InvalidOperationException("This handler refuses the account " + RefusedAccount + ".");
        }

        db.Handled.Add(new HandledEvent { EventId = context.Id, AccountId = evt.AccountId });
        return Task.CompletedTask;
    }
}
