namespace Outbox.PostgreSql.Cdc;

/// <summary>The broker rejected a row that has attempts left: the relay retries from the last confirmed position after a delay.</summary>
internal sealed class CdcPublishFailedException(string message) : OutboxException(message);
