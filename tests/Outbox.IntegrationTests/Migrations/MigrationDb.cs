using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Outbox.IntegrationTests.Migrations;

/// <summary>
/// An application's context (a business table, plus the outbox table that <c>UseOutbox</c> adds), and the in-process
/// equivalent of a scaffolded migration: the operations <c>dotnet ef migrations add</c> would generate from the model
/// (the model differ), plus whatever the test adds by hand, turned into SQL by the provider and run in one transaction,
/// as <c>Database.MigrateAsync()</c> does.
/// </summary>
public sealed class MigrationDb(DbContextOptions<MigrationDb> options) : DbContext(options)
{
    public DbSet<MigrationWatch> Watches => Set<MigrationWatch>();

    public static ServiceProvider BuildServices(string connectionString, Action<OutboxOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddOutbox(o =>
        {
            o.MapEvent<MigrationTestEvent>("migration", e => e.Key);
            configure?.Invoke(o);
        }).UsePostgreSql(connectionString);
        services.AddDbContext<MigrationDb>((sp, b) => b.UseNpgsql(connectionString).UseOutbox(sp));
        return services.BuildServiceProvider();
    }

    /// <summary>The operations of the migration that creates this model from nothing (<paramref name="down"/>: that drops it).</summary>
    public IReadOnlyList<Microsoft.EntityFrameworkCore.Migrations.Operations.MigrationOperation> ModelOperations(bool down = false)
    {
        var model = this.GetService<IDesignTimeModel>().Model.GetRelationalModel();
        var differ = this.GetService<IMigrationsModelDiffer>();
        return down ? differ.GetDifferences(model, null) : differ.GetDifferences(null, model);
    }

    /// <summary>A migration builder as EF Core gives one to <c>Up</c>, optionally holding the generated operations already.</summary>
    public MigrationBuilder NewMigration(bool withModel = false, bool down = false)
    {
        var builder = new MigrationBuilder(Database.ProviderName);
        if (withModel)
        {
            builder.Operations.AddRange(ModelOperations(down));
        }

        return builder;
    }

    /// <summary>Runs the migration's operations as <c>MigrateAsync</c> does: generated SQL, one transaction.</summary>
    public async Task ApplyAsync(MigrationBuilder migration)
    {
        var commands = this.GetService<IMigrationsSqlGenerator>().Generate(migration.Operations, this.GetService<IDesignTimeModel>().Model);
        await this.GetService<IMigrationCommandExecutor>().ExecuteNonQueryAsync(commands, this.GetService<IRelationalConnection>());
    }
}

public sealed class MigrationWatch
{
    public Guid Id { get; set; }

    public string Title { get; set; } = "";
}

public sealed record MigrationTestEvent(string Key, int Seq);
