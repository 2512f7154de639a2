namespace Outbox.Kafka;

/// <summary>
/// Headers the inbox adds to a dead-lettered record, beside the original key, value and headers. Values are UTF-8
/// text; numbers are in invariant culture.
/// </summary>
public static class DeadLetterHeaders
{
    /// <summary>The topic the record was read from.</summary>
    public const string OriginalTopic = "dlq.original.topic";

    /// <summary>The partition the record was read from.</summary>
    public const string OriginalPartition = "dlq.original.partition";

    /// <summary>The offset of the record in that partition.</summary>
    public const string OriginalOffset = "dlq.original.offset";

    /// <summary>The consumer group that gave up on the record.</summary>
    public const string ConsumerGroup = "dlq.consumer.group";

    /// <summary>Why: <c>handler-failed</c>, <c>unknown-event-type</c>, <c>malformed-payload</c> or <c>missing-id</c>.</summary>
    public const string Reason = "dlq.reason";

    /// <summary>The exception type of the last failure, or a short error code.</summary>
    public const string ErrorType = "dlq.error.type";

    /// <summary>The error message (at most 4,000 characters).</summary>
    public const string ErrorMessage = "dlq.error.message";

    /// <summary>How many handling attempts were made (0 when the record could not be read).</summary>
    public const string Attempts = "dlq.attempts";
}
