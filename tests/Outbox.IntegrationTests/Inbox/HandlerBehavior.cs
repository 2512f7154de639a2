using System.Collections.Concurrent;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>What the test handlers do, set by each test (a singleton per host).</summary>
public sealed class HandlerBehavior
{
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    /// <summary>Gets or sets the name written to <see cref="Effect.Consumer"/> (tells consumers of one group apart).</summary>
    public string ConsumerName { get; set; } = "consumer";

    /// <summary>Gets or sets how many times the handler throws for an event before it succeeds, by sequence; int.MaxValue: always.</summary>
    public ConcurrentDictionary<int, int> FailuresBySequence { get; } = new();

    /// <summary>Gets or sets a value indicating whether the handler emits a <see cref="StreamOpened"/> through the outbox.</summary>
    public bool EmitChainedEvent { get; set; }

    /// <summary>Gets or sets a value indicating whether the handler saves its changes itself before it may throw.</summary>
    public bool SaveBeforeFailing { get; set; }

    /// <summary>Gets or sets an optional delay per call, to keep records in flight during rebalances.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Gets delays per call for some sequences only (a record that hangs while others go on).</summary>
    public ConcurrentDictionary<int, TimeSpan> DelayBySequence { get; } = new();

    /// <summary>Gets every call (event id, attempt), including failed ones.</summary>
    public ConcurrentQueue<(string EventId, int Attempt)> Calls { get; } = new();

    public int CallCount(string eventId) => _calls.TryGetValue(eventId, out var count) ? count : 0;

    public int RecordCall(string eventId, int attempt)
    {
        Calls.Enqueue((eventId, attempt));
        return _calls.AddOrUpdate(eventId, 1, (_, c) => c + 1);
    }
}
