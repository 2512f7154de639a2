namespace Outbox.Providers;

/// <summary>The delivery result of one record of an <see cref="IOutboxPublisher"/> call. For provider packages; applications do not call this.</summary>
/// <param name="Status">Whether the broker acknowledged it.</param>
/// <param name="Error">The error text when it failed.</param>
/// <param name="Kind">For a failure, whether it counts against the record (see <see cref="PublishFailureKind"/>).</param>
public readonly record struct PublishResult(PublishStatus Status, string? Error, PublishFailureKind Kind = PublishFailureKind.Record)
{
    /// <summary>Gets the result of a record the broker acknowledged.</summary>
    public static PublishResult Acknowledged => new(PublishStatus.Acknowledged, null);

    /// <summary>Gets the result of a record not sent because an earlier one of the call was refused.</summary>
    public static PublishResult NotAttempted => new(PublishStatus.NotAttempted, null);

    /// <summary>The result of a record that failed.</summary>
    /// <param name="error">Why it failed.</param>
    /// <param name="kind">Whether the failure counts against the record.</param>
    /// <returns>A <see cref="PublishStatus.Failed"/> result.</returns>
    public static PublishResult Failed(string error, PublishFailureKind kind = PublishFailureKind.Record) => new(PublishStatus.Failed, error, kind);
}
