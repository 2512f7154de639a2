using Microsoft.Extensions.Logging;
using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>What both relays report about a settled batch: logs and metrics of the failures, one wording for both.</summary>
internal static class SettlementReport
{
    public static void Settled(
        RelayKind relay, IReadOnlyList<OutboxRecord> messages, BatchSettlement settlement, IReadOnlyList<KeyFailureOutcome> outcomes, OutboxOptions options,
        RelayTelemetry telemetry, ILogger logger, string? database = null)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(telemetry);
        telemetry.Settled(relay, messages, settlement, outcomes, options, database);
        var name = relay == RelayKind.Polling ? "polling" : "CDC";
        for (var i = 0; i < settlement.Failures.Count && i < outcomes.Count; i++)
        {
            var failure = settlement.Failures[i];
            var outcome = outcomes[i];
            var message = failure.Message;
            if (outcome.Parked)
            {
                SettlementLog.KeyParked(
                    logger, name, message.Id, message.AggregateType, message.AggregateId, outcome.Attempts,
                    failure.Permanent ? "the broker can never take it as it is" : "its attempts are used up", failure.Error);
            }
            else
            {
                SettlementLog.KeyRetrying(logger, name, message.Id, message.AggregateType, message.AggregateId, outcome.Attempts, outcome.RetryIn, failure.Error);
            }
        }
    }
}

/// <summary>Log messages of the settlement shared by both relays (event ids 1020-1029).</summary>
internal static partial class SettlementLog
{
    [LoggerMessage(OutboxEventId.SettlementKeyRetrying, LogLevel.Warning,
        "The {Relay} relay could not publish event {Id} of key {AggregateType}/{AggregateId} (failed attempt {Attempts}); that key waits {Delay} and is tried again, in order, while every other key goes on: {Error}")]
    public static partial void KeyRetrying(ILogger logger, string relay, Guid id, string aggregateType, string aggregateId, int attempts, TimeSpan delay, string error);

    [LoggerMessage(OutboxEventId.SettlementKeyParked, LogLevel.Error,
        "The {Relay} relay parked key {AggregateType}/{AggregateId}: event {Id} failed {Attempts} time(s) and {Reason}. It and every later event of the key wait, in order, until an operator replays or discards the key (dotnet outbox parked); every other key goes on. Last error: {Error}")]
    public static partial void KeyParked(ILogger logger, string relay, Guid id, string aggregateType, string aggregateId, int attempts, string reason, string error);

    [LoggerMessage(OutboxEventId.SettlementTransientFailure, LogLevel.Warning,
        "The {Relay} relay could not publish {Rows} record(s) for a reason that is not theirs (the broker or the network); retrying in {Delay}, without counting it against them: {Error}")]
    public static partial void TransientFailure(ILogger logger, string relay, int rows, TimeSpan delay, string error);
}
