using System.Data.Common;
using Outbox.Inbox;

namespace Outbox.Kafka.Tests.Inbox;

public sealed partial class InboxProcessorTests
{
    private sealed class FakeDbException(bool transient, string? sqlState = null, Exception? inner = null) : DbException("database error", inner)
    {
        public override bool IsTransient => transient;

        public override string? SqlState => sqlState;
    }

    [Fact]
    public void Transient_database_errors_anywhere_in_the_chain_are_not_the_records_fault()
    {
        Assert.True(InboxProcessor.IsTransient(new FakeDbException(transient: true)));
        Assert.True(InboxProcessor.IsTransient(new InvalidOperationException("wrapped", new FakeDbException(transient: true))));
        Assert.False(InboxProcessor.IsTransient(new FakeDbException(transient: false)));
        Assert.False(InboxProcessor.IsTransient(new InvalidOperationException("handler bug")));
    }

    [Theory]
    [InlineData("40001")]
    [InlineData("40P01")]
    public void Serialization_failures_and_deadlocks_are_transient(string sqlState) =>
        Assert.Equal(InboxFailureKind.Transient, InboxProcessor.Classify(new InvalidOperationException("wrapped", new FakeDbException(false, sqlState))));

    [Theory]
    [InlineData("22021")] // a NUL byte in text
    [InlineData("22P05")]
    [InlineData("22001")]
    [InlineData("23505")] // a unique violation, also from a deferred constraint at COMMIT
    [InlineData("23503")]
    [InlineData("54000")] // index row size exceeds maximum
    public void Errors_about_the_record_itself_are_permanent(string sqlState) =>
        Assert.Equal(InboxFailureKind.Permanent, InboxProcessor.Classify(new InvalidOperationException("wrapped", new FakeDbException(false, sqlState))));

    [Fact]
    public void Any_other_error_counts_as_an_attempt()
    {
        Assert.Equal(InboxFailureKind.Attempt, InboxProcessor.Classify(new InvalidOperationException("handler bug")));
        Assert.Equal(InboxFailureKind.Attempt, InboxProcessor.Classify(new FakeDbException(false, "42P01")));
        Assert.Equal(InboxFailureKind.Attempt, InboxProcessor.Classify(new FakeDbException(false)));
    }

    [Fact]
    public void A_transient_error_anywhere_in_the_chain_wins_over_a_permanent_one() =>
        Assert.Equal(InboxFailureKind.Transient, InboxProcessor.Classify(new FakeDbException(false, "23505", new FakeDbException(true, "08006"))));
}
