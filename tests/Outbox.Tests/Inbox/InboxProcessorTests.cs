using System.Data.Common;
using Outbox.Inbox;

namespace Outbox.Tests.Inbox;

public sealed class InboxProcessorTests
{
    private sealed class FakeDbException(bool transient) : DbException("database error")
    {
        public override bool IsTransient => transient;
    }

    [Fact]
    public void Transient_database_errors_anywhere_in_the_chain_are_not_the_records_fault()
    {
        Assert.True(InboxProcessor.IsTransient(new FakeDbException(transient: true)));
        Assert.True(InboxProcessor.IsTransient(new InvalidOperationException("wrapped", new FakeDbException(transient: true))));
        Assert.False(InboxProcessor.IsTransient(new FakeDbException(transient: false)));
        Assert.False(InboxProcessor.IsTransient(new InvalidOperationException("handler bug")));
    }
}
