namespace Outbox.Relay;

/// <summary>What to record about the row a lane stopped at.</summary>
/// <param name="Id">The row.</param>
/// <param name="Attempts">The failed attempts so far, this one included.</param>
/// <param name="Error">The error text of this attempt.</param>
/// <param name="RetryDelay">How long to wait before the next attempt; ignored when <paramref name="DeadLetter"/>.</param>
/// <param name="DeadLetter">Whether the row moves to the dead-letter table now (the lane then continues).</param>
internal sealed record RecordFailure(Guid Id, int Attempts, string Error, TimeSpan RetryDelay, bool DeadLetter);
