using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>The pool the outbox builds from a connection string: prepared statements with one plan each, no session reset.</summary>
public sealed class OwnedDataSourceTests(ITestOutputHelper output)
{
    [Fact]
    public void The_connection_string_gets_auto_prepare_generic_plans_and_no_reset_unless_it_sets_them()
    {
        var tuned = new NpgsqlConnectionStringBuilder(OutboxDataSource.Tuned("Host=db;Database=app;Username=app"));
        Assert.Equal(32, tuned.MaxAutoPrepare);
        Assert.True(tuned.NoResetOnClose);
        Assert.Equal("-c plan_cache_mode=force_generic_plan", tuned.Options);
        Assert.Equal("db", tuned.Host);

        var own = new NpgsqlConnectionStringBuilder(OutboxDataSource.Tuned("Host=db;Database=app;Max Auto Prepare=0;NoResetOnClose=false;Options=-c work_mem=8MB"));
        Assert.Equal(0, own.MaxAutoPrepare);
        Assert.False(own.NoResetOnClose);
        Assert.Equal("-c work_mem=8MB", own.Options);
    }

    [Fact]
    public async Task The_outboxs_own_pool_runs_with_generic_plans()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 2);
        var services = new ServiceCollection();
        services.AddOutbox(harness.ConfigureOutbox).UsePostgreSql(harness.ConnectionString);
        await using var provider = services.BuildServiceProvider();
        var dataSource = provider.GetRequiredService<OutboxDataSource>().DataSource;
        await using var command = dataSource.CreateCommand("SHOW plan_cache_mode");
        Assert.Equal("force_generic_plan", (string?)await command.ExecuteScalarAsync());
    }
}
