using Microsoft.EntityFrameworkCore;

namespace Outbox.Benchmarks.Macro;

/// <summary>The consumer's context: no tables of its own, the no-op handler writes nothing.</summary>
public sealed class InboxBenchDb(DbContextOptions<InboxBenchDb> options) : DbContext(options);
