namespace Outbox.Inbox;

/// <summary>A record to send to the dead-letter topic and why.</summary>
/// <param name="Reason">One of <see cref="DeadLetterReason"/>.</param>
/// <param name="ErrorType">The exception type (or a short error code).</param>
/// <param name="ErrorMessage">A message that says what is wrong with the record.</param>
/// <param name="Attempts">How many handling attempts were made (0 when none could be).</param>
internal sealed record DeadLetter(string Reason, string ErrorType, string ErrorMessage, int Attempts);
