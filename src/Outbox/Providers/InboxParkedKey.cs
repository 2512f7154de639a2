namespace Outbox.Providers;

/// <summary>A key of a partition with rows in the parked table, since when, and whether it is parked (holds later records). For provider packages; applications do not call this.</summary>
/// <param name="Key">The record key; <see langword="null"/> for the rows of records without a key (they hold nothing).</param>
/// <param name="ParkedAt">When the oldest row of the key was stored.</param>
/// <param name="Holds">Whether a row of the key is parked or held (later records of the key wait behind it).</param>
public readonly record struct InboxParkedKey(byte[]? Key, DateTimeOffset ParkedAt, bool Holds);
