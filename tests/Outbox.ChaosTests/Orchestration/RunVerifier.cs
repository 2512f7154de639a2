using System.Globalization;
using System.Text.Json;
using Outbox.ChaosTests.Model;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// The end-of-run checks, pure so that their own tests can feed them broken histories: every committed event is in
/// Kafka and nothing else is; per key, the first occurrences of the events come in commit (version) order; every
/// consumer group has exactly one effect of every committed event and none of anything else. Among the duplicates it
/// counts the stale re-sends: copies that arrive after a later event of the same key, where a consumer without an inbox
/// would see the key's state go backwards.
/// </summary>
public static class RunVerifier
{
    private const int MaxExamples = 20;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RunFindings Verify(
        IReadOnlyDictionary<Guid, CommittedEvent> committed,
        IReadOnlyList<KafkaRecord> records,
        IReadOnlyList<EffectRow> effects,
        IReadOnlyList<string> groups)
    {
        ArgumentNullException.ThrowIfNull(committed);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(effects);
        ArgumentNullException.ThrowIfNull(groups);
        var examples = new List<string>();
        void Example(string text)
        {
            if (examples.Count < MaxExamples)
            {
                examples.Add(text);
            }
        }

        var staleExamples = new List<string>();
        var firstHeaderIds = new Dictionary<Guid, string>();
        var lastVersions = new Dictionary<string, long>(StringComparer.Ordinal);
        var keyPartitions = new Dictionary<string, int>(StringComparer.Ordinal);
        long phantoms = 0, duplicates = 0, staleResends = 0, orderViolations = 0, unreadable = 0, mismatches = 0;

        // Records come sorted by partition and offset; a key lives in one partition, so this is each key's order.
        foreach (var record in records)
        {
            var where = string.Create(CultureInfo.InvariantCulture, $"partition {record.Partition} offset {record.Offset}");
            var evt = Parse(record.Value);
            if (evt is null || string.IsNullOrEmpty(record.Id))
            {
                unreadable++;
                Example($"unreadable record at {where}");
                continue;
            }

            if (!committed.TryGetValue(evt.ChaosId, out var written))
            {
                phantoms++;
                Example($"event {evt.ChaosId} ({evt.Key} v{evt.Version}) at {where} never committed");
            }
            else if (written.Key != evt.Key || written.Version != evt.Version)
            {
                mismatches++;
                Example($"event {evt.ChaosId} at {where} is {evt.Key} v{evt.Version}, but the writer committed {written.Key} v{written.Version}");
            }

            if (record.Key != evt.Key)
            {
                mismatches++;
                Example($"record at {where} has key '{record.Key}' but its event's key is '{evt.Key}'");
            }

            if (keyPartitions.TryGetValue(evt.Key, out var partition) && partition != record.Partition)
            {
                mismatches++;
                Example($"key {evt.Key} is in partitions {partition} and {record.Partition}");
            }

            keyPartitions[evt.Key] = record.Partition;
            if (firstHeaderIds.TryGetValue(evt.ChaosId, out var firstId))
            {
                duplicates++;

                // A later version of the key is already in the topic: the copy puts an older state behind a newer one.
                // (Every version of a key first appears in order, so the highest first occurrence is the highest record.)
                var newest = lastVersions.GetValueOrDefault(evt.Key);
                if (evt.Version < newest)
                {
                    staleResends++;
                    if (staleExamples.Count < MaxExamples)
                    {
                        staleExamples.Add($"key {evt.Key} v{evt.Version} again at {where}, after v{newest}");
                    }
                }

                if (firstId != record.Id)
                {
                    // The same event under two outbox ids: the inbox could not tell them apart.
                    mismatches++;
                    Example($"event {evt.ChaosId} at {where} has id header {record.Id}, its first record had {firstId}");
                }

                continue;
            }

            firstHeaderIds[evt.ChaosId] = record.Id;
            var last = lastVersions.GetValueOrDefault(evt.Key);
            if (evt.Version <= last)
            {
                orderViolations++;
                Example($"key {evt.Key}: v{evt.Version} first appears at {where}, after v{last}");
            }

            lastVersions[evt.Key] = Math.Max(last, evt.Version);
        }

        long lost = 0;
        var lostSample = new List<Guid>();
        foreach (var (id, written) in committed)
        {
            if (!firstHeaderIds.ContainsKey(id))
            {
                lost++;
                if (lostSample.Count < MaxExamples)
                {
                    lostSample.Add(id);
                }

                Example($"committed event {id} ({written.Key} v{written.Version}, writer {written.Writer}) is not in Kafka");
            }
        }

        long missing = 0, doubles = 0, phantomEffects = 0;
        foreach (var group in groups)
        {
            var mine = effects.Where(e => e.Group == group).ToDictionary(e => e.ChaosId);
            foreach (var (id, written) in committed)
            {
                if (!mine.ContainsKey(id))
                {
                    missing++;
                    Example($"group {group}: no effect of committed event {id} ({written.Key} v{written.Version})");
                }
            }

            foreach (var effect in mine.Values)
            {
                if (effect.Count > 1)
                {
                    doubles += effect.Count - 1;
                    Example($"group {group}: event {effect.ChaosId} ({effect.Key} v{effect.Version}) took effect {effect.Count} times");
                }

                if (!committed.ContainsKey(effect.ChaosId))
                {
                    phantomEffects++;
                    Example($"group {group}: effect of event {effect.ChaosId}, which never committed");
                }
            }
        }

        foreach (var effect in effects.Where(e => !groups.Contains(e.Group)))
        {
            phantomEffects++;
            Example($"effect of unknown group {effect.Group}");
        }

        return new RunFindings
        {
            Committed = committed.Count,
            KafkaRecords = records.Count,
            Lost = lost,
            Phantoms = phantoms,
            DuplicatesInKafka = duplicates,
            StaleResends = staleResends,
            StaleResendExamples = staleExamples,
            OrderViolations = orderViolations,
            Unreadable = unreadable,
            Mismatches = mismatches,
            MissingEffects = missing,
            DoubleEffects = doubles,
            PhantomEffects = phantomEffects,
            Examples = examples,
            LostSample = lostSample,
        };
    }

    private static ChaosEvent? Parse(byte[]? value)
    {
        if (value is null || value.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ChaosEvent>(value, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
