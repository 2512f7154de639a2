using Outbox.PostgreSql.Cdc;
using Outbox.Providers;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

public sealed class CdcProgressTests
{
    [Fact]
    public void A_commit_is_confirmable_only_once_all_its_rows_and_every_earlier_row_are_acknowledged()
    {
        var progress = new CdcProgress(0);
        var t1 = Rows(progress, 2, commitEnd: 100);
        var t2 = Rows(progress, 3, commitEnd: 200);

        Assert.Equal(0UL, progress.TakeFlush(lastReceived: 500).Confirm);
        Acknowledge(progress, t1.Concat(t2).ToList(), 1);
        Assert.Equal(0UL, progress.TakeFlush(500).Confirm);
        Acknowledge(progress, t1.Skip(1).Concat(t2).ToList(), 1);
        Assert.Equal(100UL, progress.TakeFlush(500).Confirm);
        Acknowledge(progress, t2, 2);
        Assert.Equal(100UL, progress.TakeFlush(500).Confirm);
        Acknowledge(progress, t2.Skip(2).ToList(), 1);
        Assert.Equal(500UL, progress.TakeFlush(500).Confirm);
    }

    [Fact]
    public void The_stream_position_is_confirmed_only_while_nothing_is_unacknowledged_and_no_transaction_is_open()
    {
        var progress = new CdcProgress(0);
        Assert.Equal(50UL, progress.TakeFlush(lastReceived: 50).Confirm);

        progress.Begin();
        Assert.Equal(50UL, progress.TakeFlush(lastReceived: 80).Confirm);
        progress.RowDecoded();
        progress.Commit(90);
        Assert.Equal(50UL, progress.TakeFlush(lastReceived: 120).Confirm);

        Acknowledge(progress, [Message()], 1);
        Assert.Equal(120UL, progress.TakeFlush(lastReceived: 120).Confirm);
    }

    [Fact]
    public void A_row_decoded_but_not_yet_published_blocks_the_stream_position()
    {
        var progress = new CdcProgress(0);
        progress.Begin();
        progress.RowDecoded();

        // The transaction's commit was received (so the stream position is past it) but its row is not acknowledged.
        progress.Commit(300);
        Assert.Equal(0UL, progress.TakeFlush(lastReceived: 400).Confirm);
    }

    [Fact]
    public void Acknowledged_rows_are_handed_over_for_deletion_once()
    {
        var progress = new CdcProgress(0);
        var rows = Rows(progress, 3, commitEnd: 10);
        Acknowledge(progress, rows, 2);
        Assert.Equal(rows.Take(2).Select(r => r.Id), progress.TakeFlush(0).Deletes);
        Assert.Empty(progress.TakeFlush(0).Deletes);
        Acknowledge(progress, rows.Skip(2).ToList(), 1);
        Assert.Equal([rows[2].Id], progress.TakeFlush(0).Deletes);
        Assert.Equal(3, progress.Acknowledged);
        Assert.Equal(3, progress.Decoded);
    }

    [Fact]
    public void The_confirmed_position_never_moves_back()
    {
        var progress = new CdcProgress(0);
        progress.MarkConfirmed(500);
        progress.MarkConfirmed(400);
        Assert.Equal(500UL, progress.Confirmed);
    }

    [Fact]
    public void Held_rows_are_settled_for_the_confirmed_position_without_being_deleted()
    {
        var progress = new CdcProgress(0);
        var rows = Rows(progress, 3, commitEnd: 100);

        // The first row is acknowledged; the other two belong to a held key: they stay in the table.
        progress.Settle(3, [rows[0].Id]);
        var (deletes, confirm) = progress.TakeFlush(lastReceived: 100);
        Assert.Equal([rows[0].Id], deletes);
        Assert.Equal(100UL, confirm);
        Assert.Equal(3, progress.Acknowledged);
    }

    /// <summary>The next <paramref name="count"/> rows are acknowledged (so deleted).</summary>
    private static void Acknowledge(CdcProgress progress, IReadOnlyList<OutboxRecord> messages, int count) =>
        progress.Settle(count, messages.Take(count).Select(m => m.Id).ToList());

    private static List<OutboxRecord> Rows(CdcProgress progress, int count, ulong commitEnd)
    {
        progress.Begin();
        var rows = new List<OutboxRecord>();
        for (var i = 0; i < count; i++)
        {
            progress.RowDecoded();
            rows.Add(Message());
        }

        progress.Commit(commitEnd);
        return rows;
    }

    private static OutboxRecord Message() => new() { Id = Guid.NewGuid() };
}
