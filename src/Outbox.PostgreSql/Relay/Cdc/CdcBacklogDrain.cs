using Microsoft.Extensions.Logging;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Publishes the rows that were in the table when the slot was created (the backlog), in commit order, before the
/// relay streams, with the same rule as the stream: a key whose event fails in a way that counts is recorded (retrying
/// or parked), and the backlog rows of a held key move into the outbox table, in their order, where they wait with the
/// key's other rows. Rows of other keys not attempted behind a refused one stay in the backlog and are read again first.
/// </summary>
internal sealed class CdcBacklogDrain(
    ICdcBacklogStore store,
    IKeyFailureStore failures,
    IOutboxPublisher publisher,
    CdcAcknowledger acknowledger,
    OutboxOptions outboxOptions,
    CdcRelayOptions options,
    TimeProvider timeProvider,
    RelayTelemetry telemetry,
    ILogger logger)
{
    /// <summary>Drains the backlog; returns how many rows it published.</summary>
    /// <exception cref="CdcPublishFailedException">The transport failed for a reason that is not the rows' own: the rest waits for the next iteration.</exception>
    public async Task<int> DrainAsync(string slotName, CancellationToken cancellationToken)
    {
        var policy = new KeyRetryPolicy(options.MaxAttempts, options.InitialRetryDelay, options.MaxRetryDelay);
        var published = 0;
        var logged = false;
        while (true)
        {
            var rows = await store.ReadBacklogAsync(options.MaxBatchSize, cancellationToken).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                return published;
            }

            if (!logged)
            {
                Log.DrainingBacklog(logger, rows.Count, slotName);
                logged = true;
            }

            var startedAt = timeProvider.GetTimestamp();
            var keys = rows.Select(static r => (r.AggregateType, r.AggregateId)).ToHashSet();
            var held = (await store.ReadKeyStatesAsync(keys, cancellationToken).ConfigureAwait(false))
                .Where(static s => s.Value is null).Select(static s => s.Key).ToHashSet();
            var send = held.Count == 0 ? rows : rows.FindAll(r => !held.Contains((r.AggregateType, r.AggregateId)));
            var results = send.Count == 0 ? [] : await publisher.PublishAsync(send, cancellationToken).ConfigureAwait(false);
            var settlement = BatchSettlement.Settle(send, results);
            var outcomes = new List<KeyFailureOutcome>(settlement.Failures.Count);
            foreach (var failure in settlement.Failures)
            {
                outcomes.Add(await failures.FailAsync(failure, policy, cancellationToken).ConfigureAwait(false));
                held.Add((failure.Message.AggregateType, failure.Message.AggregateId));
            }

            SettlementReport.Settled(RelayKind.Cdc, send, settlement, outcomes, outboxOptions, telemetry, logger);
            telemetry.BatchDuration(RelayKind.Cdc, timeProvider.GetElapsedTime(startedAt));

            // Backlog rows predate the slot: none of them is ever in the stream, so none is taken for a stream row.
            var done = settlement.Done.Select(i => send[i].Id).ToHashSet();
            if (done.Count > 0)
            {
                await store.DeleteBacklogAsync(done.ToList(), cancellationToken).ConfigureAwait(false);
                acknowledger.CountPublished(done.Count);
                published += done.Count;
            }

            var waiting = rows.Where(r => !done.Contains(r.Id) && held.Contains((r.AggregateType, r.AggregateId))).Select(static r => r.Id).ToList();
            if (waiting.Count > 0)
            {
                await store.MoveBacklogToMessagesAsync(waiting, cancellationToken).ConfigureAwait(false);
            }

            if (settlement.TransientError is { } error)
            {
                throw new CdcPublishFailedException($"Publishing the backlog failed for a reason that is not the rows' own (retried, not counted): {error}");
            }
        }
    }
}
