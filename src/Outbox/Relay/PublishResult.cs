namespace Outbox.Relay;

/// <summary>The delivery result of one message.</summary>
/// <param name="Status">Whether the broker acknowledged it.</param>
/// <param name="Error">The error text when it failed.</param>
internal readonly record struct PublishResult(PublishStatus Status, string? Error)
{
    public static PublishResult Acknowledged => new(PublishStatus.Acknowledged, null);

    public static PublishResult NotAttempted => new(PublishStatus.NotAttempted, null);

    public static PublishResult Failed(string error) => new(PublishStatus.Failed, error);
}
