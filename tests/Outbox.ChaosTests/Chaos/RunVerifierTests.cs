using System.Text;
using System.Text.Json;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;

namespace Outbox.ChaosTests.Chaos;

/// <summary>The checks of a chaos run must catch what they claim to catch: fed broken histories, they report them.</summary>
public sealed class RunVerifierTests
{
    private static readonly string[] Groups = ["g"];
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public void A_clean_history_with_relay_duplicates_passes()
    {
        var (committed, events) = Committed(("a", 3), ("b", 2));
        var records = Records(events[0], events[1], events[3], events[0], events[1], events[2], events[4]);

        var findings = RunVerifier.Verify(committed, records, Effects(events), Groups);

        Assert.Equal(0, findings.Lost + findings.Phantoms + findings.OrderViolations + findings.Mismatches + findings.MissingEffects + findings.DoubleEffects);
        Assert.Equal(2, findings.DuplicatesInKafka);
        Assert.Empty(findings.Examples);
    }

    [Fact]
    public void A_stale_batch_behind_newer_events_of_its_key_is_counted_as_stale_re_sends()
    {
        // A zombie relay wakes after the new owner published v1..v3 and sends its claimed v1, v2 again.
        var (committed, events) = Committed(("a", 3), ("b", 1));
        var records = Records(events[0], events[1], events[2], events[3], events[0], events[1], events[3]);

        var findings = RunVerifier.Verify(committed, records, Effects(events), Groups);

        Assert.Equal(3, findings.DuplicatesInKafka);
        Assert.Equal(2, findings.StaleResends);
        Assert.Equal(0, findings.Lost + findings.Phantoms + findings.OrderViolations + findings.Mismatches);
        Assert.Equal(["key a v1 again at partition 0 offset 3, after v3", "key a v2 again at partition 0 offset 4, after v3"], findings.StaleResendExamples);
        Assert.Empty(findings.Examples);
    }

    [Fact]
    public void Only_copies_behind_a_later_version_are_stale()
    {
        // v1 v1: a plain repeat; v2 v3 v2 v3 v4: a re-sent batch, whose first copy (v2 after v3) steps back, the second not.
        var (committed, events) = Committed(("a", 4));
        var records = Records(events[0], events[0], events[1], events[2], events[1], events[2], events[3]);

        var findings = RunVerifier.Verify(committed, records, Effects(events), Groups);

        Assert.Equal(3, findings.DuplicatesInKafka);
        Assert.Equal(1, findings.StaleResends);
        Assert.Equal(0, findings.OrderViolations);
    }

    [Fact]
    public void A_missing_event_is_lost()
    {
        var (committed, events) = Committed(("a", 3));
        var findings = RunVerifier.Verify(committed, Records(events[0], events[2]), Effects(events), Groups);

        Assert.Equal(1, findings.Lost);
        Assert.Equal(0, findings.OrderViolations);
        Assert.Contains(findings.Examples, e => e.Contains("is not in Kafka", StringComparison.Ordinal));
    }

    [Fact]
    public void A_later_version_first_seen_before_an_earlier_one_is_an_order_violation()
    {
        var (committed, events) = Committed(("a", 3));
        var findings = RunVerifier.Verify(committed, Records(events[1], events[0], events[2]), Effects(events), Groups);

        Assert.Equal(1, findings.OrderViolations);
        Assert.Equal(0, findings.Lost);
    }

    [Fact]
    public void A_rolled_back_event_in_Kafka_is_a_phantom()
    {
        var (committed, events) = Committed(("a", 2));
        var rolledBack = new ChaosEvent(Guid.NewGuid(), "a", 3, 1, "");
        var findings = RunVerifier.Verify(committed, Records(events[0], events[1], rolledBack), Effects(events), Groups);

        Assert.Equal(1, findings.Phantoms);
    }

    [Fact]
    public void Effects_twice_or_missing_or_of_phantoms_are_counted()
    {
        var (committed, events) = Committed(("a", 3));
        var effects = new List<EffectRow>
        {
            new("g", events[0].ChaosId, "a", 1, 2),
            new("g", events[1].ChaosId, "a", 2, 1),
            new("g", Guid.NewGuid(), "a", 9, 1),
        };

        var findings = RunVerifier.Verify(committed, Records([.. events]), effects, Groups);

        Assert.Equal(1, findings.DoubleEffects);
        Assert.Equal(1, findings.MissingEffects);
        Assert.Equal(1, findings.PhantomEffects);
    }

    [Fact]
    public void The_same_event_under_two_outbox_ids_is_a_mismatch()
    {
        var (committed, events) = Committed(("a", 1));
        var records = new List<KafkaRecord>
        {
            Record(0, 0, events[0], Guid.NewGuid().ToString()),
            Record(0, 1, events[0], Guid.NewGuid().ToString()),
        };

        var findings = RunVerifier.Verify(committed, records, Effects(events), Groups);

        Assert.Equal(1, findings.Mismatches);
        Assert.Equal(1, findings.DuplicatesInKafka);
    }

    [Fact]
    public void A_record_without_an_id_or_readable_value_is_unreadable()
    {
        var (committed, events) = Committed(("a", 1));
        var records = new List<KafkaRecord>
        {
            Record(0, 0, events[0], IdOf(events[0])),
            new(0, 1, "a", null, "ChaosEvent", Encoding.UTF8.GetBytes("{}")),
            new(0, 2, "a", "x", "ChaosEvent", Encoding.UTF8.GetBytes("not json")),
        };

        Assert.Equal(2, RunVerifier.Verify(committed, records, Effects(events), Groups).Unreadable);
    }

    private static (Dictionary<Guid, CommittedEvent> Committed, List<ChaosEvent> Events) Committed(params (string Key, int Versions)[] keys)
    {
        var events = keys.SelectMany(k => Enumerable.Range(1, k.Versions).Select(v => new ChaosEvent(Guid.NewGuid(), k.Key, v, 1, ""))).ToList();
        return (events.ToDictionary(e => e.ChaosId, e => new CommittedEvent(e.ChaosId, e.Key, e.Version, 1)), events);
    }

    private static List<EffectRow> Effects(IEnumerable<ChaosEvent> events) =>
        events.Select(e => new EffectRow("g", e.ChaosId, e.Key, e.Version, 1)).ToList();

    /// <summary>Records in the given order; each key gets a partition of its own, as the producer's partitioner does.</summary>
    private static List<KafkaRecord> Records(params ChaosEvent[] events)
    {
        var offsets = new Dictionary<string, long>();
        var records = new List<KafkaRecord>();
        foreach (var e in events)
        {
            var offset = offsets.GetValueOrDefault(e.Key);
            offsets[e.Key] = offset + 1;
            records.Add(Record(e.Key == "a" ? 0 : 1, offset, e, IdOf(e)));
        }

        return records.OrderBy(r => r.Partition).ThenBy(r => r.Offset).ToList();
    }

    private static string IdOf(ChaosEvent e) => new Guid(e.ChaosId.ToByteArray().Reverse().ToArray()).ToString();

    private static KafkaRecord Record(int partition, long offset, ChaosEvent e, string id) =>
        new(partition, offset, e.Key, id, "ChaosEvent", JsonSerializer.SerializeToUtf8Bytes(e, Json));
}
