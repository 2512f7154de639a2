using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

public sealed class CdcByteBudgetTests
{
    [Fact]
    public async Task Bytes_that_do_not_fit_wait_until_enough_are_given_back()
    {
        var budget = new CdcByteBudget(100);
        await budget.TakeAsync(60, CancellationToken.None);
        await budget.TakeAsync(40, CancellationToken.None);
        var waiting = budget.TakeAsync(10, CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        budget.Give(40);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(70, budget.Used);
        Assert.Equal(100, budget.Peak);
    }

    [Fact]
    public async Task A_row_larger_than_the_whole_budget_goes_alone()
    {
        var budget = new CdcByteBudget(100);
        await budget.TakeAsync(10, CancellationToken.None);
        var large = budget.TakeAsync(500, CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(large.IsCompleted);

        budget.Give(10);
        await large.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(500, budget.Used);

        // Nothing joins it until it is given back.
        var next = budget.TakeAsync(1, CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        budget.Give(500);
        await next.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_waiting_take_can_be_cancelled()
    {
        var budget = new CdcByteBudget(10);
        await budget.TakeAsync(10, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = budget.TakeAsync(5, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(10, budget.Used);
    }
}
