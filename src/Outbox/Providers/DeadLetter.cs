namespace Outbox.Providers;

/// <summary>A record to send to the dead-letter topic and why. For provider packages; applications do not call this.</summary>
/// <param name="Reason">A dead-letter reason code.</param>
/// <param name="ErrorType">The exception type (or a short error code).</param>
/// <param name="ErrorMessage">A message that says what is wrong with the record.</param>
/// <param name="Attempts">How many handling attempts were made (0 when none could be).</param>
public sealed record DeadLetter(string Reason, string ErrorType, string ErrorMessage, int Attempts);
