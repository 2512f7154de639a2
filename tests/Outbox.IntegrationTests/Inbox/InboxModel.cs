using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>An event consumers handle; <see cref="Sequence"/> counts per key so tests can check order.</summary>
public sealed record MovieStarted(string UserId, int Sequence, string Note = "");

/// <summary>An event a handler emits through the outbox (a chained saga step).</summary>
public sealed record StreamOpened(string UserId, int Sequence, string SourceEventId);

/// <summary>A mapped event type no consumer in these tests subscribes to.</summary>
public sealed record MovieRated(string UserId, int Stars);

/// <summary>One row per handler effect. No unique constraint on purpose: a double effect must be visible, not an error.</summary>
public sealed class Effect
{
    public long Id { get; set; }

    public string EventId { get; set; } = "";

    public string UserId { get; set; } = "";

    public int Sequence { get; set; }

    public string Handler { get; set; } = "";

    public string Consumer { get; set; } = "";

    public int Attempt { get; set; }

    public long Offset { get; set; }
}

public sealed class InboxTestDb(DbContextOptions<InboxTestDb> options) : DbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<Effect>(e =>
        {
            e.ToTable("effects");
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.EventId).HasColumnName("event_id");
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.Handler).HasColumnName("handler");
            e.Property(x => x.Consumer).HasColumnName("consumer");
            e.Property(x => x.Attempt).HasColumnName("attempt");
            e.Property(x => x.Offset).HasColumnName("offset");
        });
}
