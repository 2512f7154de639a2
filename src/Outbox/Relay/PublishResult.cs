namespace Outbox.Relay;

/// <summary>The delivery result of one message.</summary>
/// <param name="Status">Whether the broker acknowledged it.</param>
/// <param name="Error">The error text when it failed.</param>
/// <param name="Kind">For a failure, whether it counts against the record (see <see cref="PublishFailureKind"/>).</param>
internal readonly record struct PublishResult(PublishStatus Status, string? Error, PublishFailureKind Kind = PublishFailureKind.Record)
{
    public static PublishResult Acknowledged => new(PublishStatus.Acknowledged, null);

    public static PublishResult NotAttempted => new(PublishStatus.NotAttempted, null);

    public static PublishResult Failed(string error, PublishFailureKind kind = PublishFailureKind.Record) => new(PublishStatus.Failed, error, kind);
}
