using System.Globalization;
using System.Text.Json;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// The events of a run: event <c>i</c> belongs to account <c>i % Keys</c> and is that account's event number
/// <c>i / Keys</c>. Writer <c>w</c> of <c>W</c> owns the accounts with <c>account % W == w</c>, so each account's events
/// are committed by one writer, in order, and per-key order can be checked on the topic.
/// </summary>
internal sealed class Workload
{
    public const string AggregateTypePrefix = "bench";

    // About 150 bytes of JSON per event, like a small business event.
    private const string NoteText = "benchmark event padding to a realistic size for an outbox record, about 150 bytes";

    public Workload(string runId, int messages, int keys = 1000)
    {
        RunId = runId;
        Messages = messages;
        Keys = Math.Min(keys, messages);
        AggregateType = AggregateTypePrefix + "-" + runId;
    }

    public string RunId { get; }

    public int Messages { get; }

    public int Keys { get; }

    /// <summary>The aggregate type of every event: unique per run, so each run gets a topic of its own.</summary>
    public string AggregateType { get; }

    public static string KeyOf(int account) => "acct-" + account.ToString("D6", CultureInfo.InvariantCulture);

    public static string NewRunId() => Guid.NewGuid().ToString("N")[..10];

    public BenchEvent Event(long index)
    {
        var account = (int)(index % Keys);
        return new BenchEvent(KeyOf(account), index / Keys, 10m + (index % 997), NoteText);
    }

    /// <summary>The indexes writer <paramref name="writer"/> of <paramref name="writers"/> writes, in order.</summary>
    public IEnumerable<long> IndexesOf(int writer, int writers)
    {
        for (long i = 0; i < Messages; i++)
        {
            if (i % Keys % writers == writer)
            {
                yield return i;
            }
        }
    }

    public OutboxOptions CreateOptions(string schema = "outbox")
    {
        var options = new OutboxOptions { Schema = schema };
        options.MapEvent<BenchEvent>(AggregateType, e => e.AccountId);
        return options;
    }

    public string Topic(OutboxOptions options) => options.GetTopic(AggregateType);

    public static string Serialize(BenchEvent evt, JsonSerializerOptions options) => JsonSerializer.Serialize(evt, options);
}
