using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// Per-key order is commit order: a transaction that wrote its outbox row first but committed second (because it
/// waited on the aggregate's row lock) must be published second.
/// </summary>
public sealed class CommitOrderTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_transaction_that_inserted_first_but_committed_second_is_published_second()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        await using (var create = harness.DataSource.CreateCommand("CREATE TABLE aggregates (id text PRIMARY KEY, version integer NOT NULL); INSERT INTO aggregates VALUES ('K', 0)"))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using var connectionA = await harness.DataSource.OpenConnectionAsync();
        await using var connectionB = await harness.DataSource.OpenConnectionAsync();

        // T_A takes K's row lock.
        await using var txA = await connectionA.BeginTransactionAsync();
        await ExecuteAsync(connectionA, txA, "UPDATE aggregates SET version = version + 1 WHERE id = 'K'");

        // T_B writes its outbox row for K first, then blocks on K's lock.
        await using var txB = await connectionB.BeginTransactionAsync();
        await harness.Writer.EnqueueAsync(connectionB, txB, new RelayTestEvent("K", 1));
        var blockedUpdate = ExecuteAsync(connectionB, txB, "UPDATE aggregates SET version = version + 1 WHERE id = 'K'");
        await WaitUntilBlockedOnLockAsync(harness, connectionB.ProcessID);
        Assert.False(blockedUpdate.IsCompleted);

        // T_A writes its row (after B's) and commits; then B gets the lock and commits.
        await harness.Writer.EnqueueAsync(connectionA, txA, new RelayTestEvent("K", 0));
        await txA.CommitAsync();
        await blockedUpdate;
        await txB.CommitAsync();

        // B's row was inserted first (its UUIDv7 id is smaller), yet A's commit sequence is smaller.
        var rows = new List<(Guid Id, long CommitSeq, string Payload)>();
        await using (var read = harness.DataSource.CreateCommand("SELECT id, commit_seq, payload::text FROM outbox.messages ORDER BY commit_seq"))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetGuid(0), reader.GetInt64(1), reader.GetString(2)));
            }
        }

        Assert.Equal(2, rows.Count);
        Assert.Contains("\"seq\": 0", rows[0].Payload, StringComparison.Ordinal);
        Assert.True(string.CompareOrdinal(rows[1].Id.ToString(), rows[0].Id.ToString()) < 0, "B's row (seq 1) should have been inserted before A's");

        await harness.StartRelayHostAsync("relay-1");
        await harness.WaitUntilDrainedAsync();
        var records = harness.ReadTopic(2);
        Assert.Equal([0, 1], records.Where(r => r.Key == "K").Select(r => r.Seq));
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }

    private static Task WaitUntilBlockedOnLockAsync(RelayHarness harness, int pid) =>
        Eventually.TrueAsync(
            async () =>
            {
                await using var command = harness.DataSource.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'");
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
                return (long)(await command.ExecuteScalarAsync())! == 1;
            },
            "transaction B waits on K's row lock");
}
