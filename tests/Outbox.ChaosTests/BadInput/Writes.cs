using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Outbox.ChaosTests.Model;

namespace Outbox.ChaosTests.BadInput;

/// <summary>Writer transactions as an application makes them: bump the aggregate, record the event, save, commit.</summary>
public static class Writes
{
    public static async Task<ChaosEvent> WriteAsync(IServiceProvider services, string key, string note = "")
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChaosDb>();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var version = (await db.Database.SqlQuery<long>($"UPDATE chaos.aggregates SET version = version + 1 WHERE id = {key} RETURNING version AS \"Value\"").ToListAsync()).Single();
        var evt = new ChaosEvent(Guid.NewGuid(), key, version, 1, note);
        db.Outbox().Add(evt);
        await db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO chaos.written_1 (chaos_id, aggregate_id, version) VALUES ({evt.ChaosId}, {key}, {version})");
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        return evt;
    }
}
