namespace Outbox.ChaosTests.Roles;

/// <summary>How a writer transaction ends.</summary>
public enum TransactionEnding
{
    /// <summary>Commits.</summary>
    Commit,

    /// <summary>Rolls back explicitly after everything was written.</summary>
    Rollback,

    /// <summary>A statement fails after everything was written (division by zero); disposing rolls back.</summary>
    Fail,
}
