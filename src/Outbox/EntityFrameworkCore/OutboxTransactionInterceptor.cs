using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Outbox.EntityFrameworkCore;

/// <summary>Clears events from their entities when the transaction that wrote them commits; makes them pending again on rollback.</summary>
internal sealed class OutboxTransactionInterceptor : DbTransactionInterceptor
{
    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.CommitTransaction();

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.CommitTransaction();
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.ResetTransaction();

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.ResetTransaction();
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.ResetTransaction();

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.ResetTransaction();
        return Task.CompletedTask;
    }

    public override void CreatedSavepoint(DbTransaction transaction, TransactionEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.CreatedSavepoint();

    public override Task CreatedSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.CreatedSavepoint();
        return Task.CompletedTask;
    }

    public override void RolledBackToSavepoint(DbTransaction transaction, TransactionEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.RolledBackToSavepoint();

    public override Task RolledBackToSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.RolledBackToSavepoint();
        return Task.CompletedTask;
    }

    public override void ReleasedSavepoint(DbTransaction transaction, TransactionEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.ReleasedSavepoint();

    public override Task ReleasedSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.ReleasedSavepoint();
        return Task.CompletedTask;
    }
}
