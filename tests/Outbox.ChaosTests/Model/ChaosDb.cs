using Microsoft.EntityFrameworkCore;

namespace Outbox.ChaosTests.Model;

/// <summary>The consumers' context: their effects, per-key progress and the sequence violations they saw.</summary>
public sealed class ChaosDb(DbContextOptions<ChaosDb> options) : DbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    public DbSet<KeyProgress> KeyProgress => Set<KeyProgress>();

    public DbSet<SequenceViolation> SequenceViolations => Set<SequenceViolation>();

    /// <summary>Gets the outbox rows saves of this context wrote (filled by <see cref="OutboxRowCapture"/>).</summary>
    public List<OutboxMessage> CapturedOutboxRows { get; } = [];

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Effect>(e =>
        {
            e.ToTable("effects", ChaosSchema.Name);
            e.HasKey(x => new { x.ConsumerGroup, x.ChaosId });
            e.Property(x => x.ConsumerGroup).HasColumnName("consumer_group");
            e.Property(x => x.ChaosId).HasColumnName("chaos_id");
            e.Property(x => x.AggregateId).HasColumnName("aggregate_id");
            e.Property(x => x.Version).HasColumnName("version");
            e.Property(x => x.Count).HasColumnName("count");
            e.Property(x => x.EventId).HasColumnName("event_id");
        });
        modelBuilder.Entity<KeyProgress>(e =>
        {
            e.ToTable("key_progress", ChaosSchema.Name);
            e.HasKey(x => new { x.ConsumerGroup, x.AggregateId });
            e.Property(x => x.ConsumerGroup).HasColumnName("consumer_group");
            e.Property(x => x.AggregateId).HasColumnName("aggregate_id");
            e.Property(x => x.LastVersion).HasColumnName("last_version");
        });
        modelBuilder.Entity<SequenceViolation>(e =>
        {
            e.ToTable("sequence_violations", ChaosSchema.Name);
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").UseIdentityByDefaultColumn();
            e.Property(x => x.ConsumerGroup).HasColumnName("consumer_group");
            e.Property(x => x.AggregateId).HasColumnName("aggregate_id");
            e.Property(x => x.Expected).HasColumnName("expected");
            e.Property(x => x.Got).HasColumnName("got");
            e.Property(x => x.ChaosId).HasColumnName("chaos_id");
            e.Property(x => x.Partition).HasColumnName("partition");
            e.Property(x => x.Offset).HasColumnName("offset");
        });
    }
}
