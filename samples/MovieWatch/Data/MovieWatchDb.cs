using Microsoft.EntityFrameworkCore;

namespace MovieWatch.Data;

public sealed class MovieWatchDb(DbContextOptions<MovieWatchDb> options) : DbContext(options)
{
    public DbSet<Movie> Movies => Set<Movie>();

    public DbSet<User> Users => Set<User>();

    public DbSet<WatchEntry> WatchHistory => Set<WatchEntry>();

    public DbSet<StreamingSession> StreamingSessions => Set<StreamingSession>();

    public DbSet<GenreStat> GenreStats => Set<GenreStat>();

    public DbSet<RecommendationInput> RecommendationInputs => Set<RecommendationInput>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema("movies");
        modelBuilder.Entity<Movie>(e =>
        {
            e.ToTable("movies");
            e.Property(m => m.Id).ValueGeneratedNever();
        });
        modelBuilder.Entity<User>(e =>
        {
            e.ToTable("users");
            e.Property(u => u.Id).ValueGeneratedNever();
        });
        modelBuilder.Entity<WatchEntry>(e =>
        {
            e.ToTable("watch_history");
            e.HasIndex(w => w.UserId);
        });
        modelBuilder.Entity<StreamingSession>(e =>
        {
            e.ToTable("streaming_sessions");
            e.HasKey(s => s.WatchId);
        });
        modelBuilder.Entity<GenreStat>(e =>
        {
            e.ToTable("genre_stats");
            e.HasKey(s => new { s.UserId, s.Genre });
        });
        modelBuilder.Entity<RecommendationInput>(e =>
        {
            e.ToTable("recommendation_inputs");
            e.HasKey(s => s.WatchId);
        });
    }
}
