using System.Globalization;
using System.Text;
using Outbox.Benchmarks.Macro;

namespace Outbox.Benchmarks.Report;

/// <summary>Writes the markdown report and its charts.</summary>
internal static class ReportWriter
{
    public static string Write(ReportData data)
    {
        Directory.CreateDirectory(data.Settings.OutputDirectory);
        var stem = $"{data.Started.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}-{data.Machine.Name}";
        var throughputPng = stem + "-throughput.png";
        var latencyPng = stem + "-latency.png";
        var subtitle = $"{data.Machine.Cores} cores, {data.Machine.Cpu}; shared machine, noisy";

        // Each relay stands next to the baseline measured right before it (the one its ratio uses); COPY and the raw
        // producer come from the baselines scenario.
        var bars = new List<(string, double, bool)>();
        var polling = data.Throughput.FirstOrDefault(t => t.Relay == RelayKind.Polling);
        var cdc = data.Throughput.FirstOrDefault(t => t.Relay == RelayKind.Cdc);
        if (data.Baselines is { } b)
        {
            bars.Add(("COPY insert\n(raw, 4 writers)", b.CopyInsert.PerSecond, true));
        }

        if (polling is not null)
        {
            bars.Add(("claim+delete\n(raw, 1 worker)", polling.Baseline.PerSecond, true));
            bars.Add(("polling relay\n(1 instance)", polling.PerSecond, false));
        }
        else if (data.Baselines is { } b1)
        {
            bars.Add(("claim+delete\n(raw, 1 worker)", b1.ClaimDelete.PerSecond, true));
        }

        if (cdc is not null)
        {
            bars.Add(($"pgoutput decode\n(raw, {cdc.Writers} writers)", cdc.Baseline.PerSecond, true));
            bars.Add(($"CDC relay\n({cdc.Writers} writers)", cdc.PerSecond, false));
        }
        else if (data.Baselines is { } b2)
        {
            bars.Add(("pgoutput decode\n(raw)", b2.Decode.PerSecond, true));
        }

        if (data.Baselines is { } b3)
        {
            bars.Add(("Kafka produce\n(raw, idempotent)", b3.Produce.PerSecond, true));
        }

        if (bars.Count > 0)
        {
            Charts.Throughput(Path.Combine(data.Settings.OutputDirectory, throughputPng), bars, subtitle);
        }

        if (data.Latency.Count > 0)
        {
            Charts.Latency(
                Path.Combine(data.Settings.OutputDirectory, latencyPng),
                data.Latency,
                new Dictionary<RelayKind, double> { [RelayKind.Cdc] = 10, [RelayKind.Polling] = 25 },
                subtitle);
        }

        var md = new StringBuilder();
        var s = data.Settings;
        var m = data.Machine;
        md.AppendLine(Inv($"# Outbox benchmarks: {data.Started:yyyy-MM-dd}, {m.Name}"));
        md.AppendLine();
        md.AppendLine("Produced by:");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(Inv($"dotnet run -c Release --project benchmarks/Outbox.Benchmarks -- report --messages {s.Messages} --writers {s.Writers} --rate {s.Rate} --seconds {s.Seconds} --partitions {s.Partitions} --inbox-messages {s.InboxMessages} --live-seconds {s.LiveSeconds}{(s.MicroResultsDirectory is null ? "" : " --micro " + s.MicroResultsDirectory)}"));
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine("## Machine");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        md.AppendLine(Inv($"| cores | {m.Cores} ({m.Cpu}) |"));
        md.AppendLine(Inv($"| memory | {m.MemoryGiB:0.0} GiB |"));
        md.AppendLine(Inv($"| OS | {m.Os} |"));
        md.AppendLine(Inv($"| .NET | {m.Runtime} |"));
        md.AppendLine(Inv($"| PostgreSQL | {m.Postgres} |"));
        md.AppendLine(Inv($"| Kafka | {m.Kafka} |"));
        md.AppendLine(Inv($"| library commit | {m.Commit} |"));
        md.AppendLine(Inv($"| load average (1/5/15 min) | {m.LoadAverage} at start, {data.LoadAverageAtEnd} at end |"));
        md.AppendLine();
        md.AppendLine("PostgreSQL, the Kafka mock cluster, the relay and the load generator share the same cores: absolute figures are");
        md.AppendLine("noisy, ratios to the baselines measured in the same run matter more. The load average above includes the report's");
        md.AppendLine("own load; each scenario's CPU split below shows how much of the machine other processes took.");
        md.AppendLine();

        md.AppendLine("## Goals");
        md.AppendLine();
        md.AppendLine("| scenario | goal | measured | met |");
        md.AppendLine("|---|---|---|---|");
        foreach (var t in data.Throughput)
        {
            var (minRate, minRatio, label) = t.Relay == RelayKind.Polling
                ? (40_000d, 0.6, "polling drain, 1 relay")
                : (60_000d, 0.7, $"CDC live, {t.Writers} writers");
            var met = t.PerSecond >= minRate && t.Ratio >= minRatio && t.Verification.Lost == 0;
            md.AppendLine(Inv($"| {label}, {t.Messages:N0} events | >= {minRate:N0} msg/s and ratio >= {minRatio} to {t.Baseline.Name} | {t.PerSecond:N0} msg/s, ratio {t.Ratio:0.00} | {(met ? "yes" : "no")} |"));
        }

        foreach (var l in data.Latency)
        {
            var goal = l.Relay == RelayKind.Cdc ? 10 : 25;
            var p99 = LatencyResult.Percentile(l.LatenciesMs, 99);
            md.AppendLine(Inv($"| latency at {l.Rate} msg/s, {l.Relay.ToString().ToLowerInvariant()} | p99 <= {goal} ms | p99 {p99:0.00} ms | {(p99 <= goal && l.Verification.Lost == 0 ? "yes" : "no")} |"));
        }

        foreach (var (label, results) in data.Live)
        {
            if (results.FirstOrDefault(r => r.Mode == LiveMode.DualWrite) is not { } dual)
            {
                continue;
            }

            foreach (var r in results.Where(r => r.Mode is LiveMode.Polling or LiveMode.Cdc))
            {
                if (r.Rate > 0)
                {
                    var cpu = r.CpuPerEventMs / dual.CpuPerEventMs;
                    var holds = r.TransactionsPerSecond >= 0.97 * r.Rate;
                    var met = holds && cpu <= 1.5 && r.ConsumeP99Ms <= 25 && r.Verification.Lost == 0;
                    md.AppendLine(Inv($"| live, {label}, {r.Name} | holds the rate, CPU/event <= 1.5x dual-write, commit-to-consume p99 <= 25 ms | {r.TransactionsPerSecond:N0} tx/s, CPU/event {cpu:0.00}x, p99 {r.ConsumeP99Ms:0.0} ms | {(met ? "yes" : "no")} |"));
                }
                else
                {
                    var goal = r.EventsPerTransaction >= 10 ? 0.9 : 0.85;
                    var ratio = r.EventsPerSecond / dual.EventsPerSecond;
                    md.AppendLine(Inv($"| live, {label}, {r.Name} | >= {goal} of dual-write events/s | {r.EventsPerSecond:N0} vs {dual.EventsPerSecond:N0} events/s, {ratio:0.00} | {(ratio >= goal && r.Verification.Lost == 0 ? "yes" : "no")} |"));
                }
            }
        }

        foreach (var i in data.Inbox)
        {
            md.AppendLine(Inv($"| inbox, no-op handler, batch {i.Batch}, {i.Messages:N0} records | >= 15,000 msg/s | {i.PerSecond:N0} msg/s | {(i.PerSecond >= 15_000 && i.Lost == 0 ? "yes" : "no")} |"));
        }

        AppendWritePathGoals(md, data.Settings.MicroResultsDirectory);
        md.AppendLine();
        foreach (var skipped in data.Skipped)
        {
            md.AppendLine($"Not measured: {skipped}");
            md.AppendLine();
        }

        md.AppendLine("## Throughput");
        md.AppendLine();
        if (bars.Count > 0)
        {
            md.AppendLine($"![throughput]({throughputPng})");
            md.AppendLine();
        }

        md.AppendLine("| what | events | writers | msg/s | seconds | baseline | baseline msg/s | ratio | lost | duplicates | order violations |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var t in data.Throughput)
        {
            var v = t.Verification;
            md.AppendLine(Inv($"| {t.Relay.ToString().ToLowerInvariant()} relay | {t.Messages:N0} | {t.Writers} | {t.PerSecond:N0} | {t.Seconds:0.00} | {t.Baseline.Name} | {t.Baseline.PerSecond:N0} | {t.Ratio:0.00} | {v.Lost} | {v.Duplicates} | {v.OrderViolations} |"));
        }

        md.AppendLine();
        if (data.Baselines is { } bl)
        {
            md.AppendLine("### Raw baselines (`baselines`)");
            md.AppendLine();
            md.AppendLine("Measured once at the start of the report; each throughput ratio above uses its own baseline, measured right before");
            md.AppendLine("the relay in the same scenario (the chart shows those). The spread between the two says how noisy the machine was.");
            md.AppendLine();
            md.AppendLine("| baseline | rows | workers | rows/s | what |");
            md.AppendLine("|---|---|---|---|---|");
            md.AppendLine(Inv($"| copy_insert | {bl.Messages:N0} | {bl.CopyInsert.Workers} | {bl.CopyInsert.PerSecond:N0} | binary COPY, 1,000 rows per COPY/transaction, into a table of the outbox shape without the commit-order trigger |"));
            md.AppendLine(Inv($"| claim_delete | {bl.Messages:N0} | {bl.ClaimDelete.Workers} | {bl.ClaimDelete.PerSecond:N0} | `WITH c AS (SELECT id ... ORDER BY lane, commit_seq LIMIT 500 FOR UPDATE SKIP LOCKED) DELETE ... RETURNING` every column |"));
            md.AppendLine(Inv($"| pgoutput_decode | {bl.Messages:N0} | {bl.Decode.Workers} | {bl.Decode.PerSecond:N0} | writers COPY 1,000-row transactions while one Npgsql logical replication connection decodes them (binary pgoutput, every column read) |"));
            md.AppendLine(Inv($"| kafka_produce | {bl.Messages:N0} | 1 | {bl.Produce.PerSecond:N0} | idempotent producer with the library's settings (acks=all, linger 5 ms), same keys, jsonb-printed values and headers, {s.Partitions} partitions; read back: lost {bl.ProduceVerification.Lost}, duplicates {bl.ProduceVerification.Duplicates}, order violations {bl.ProduceVerification.OrderViolations} |"));
            md.AppendLine();
        }

        md.AppendLine("## Latency");
        md.AppendLine();
        md.AppendLine("After 3 s of warm-up (written and checked, not measured), from the moment the writer sends COMMIT (one event per");
        md.AppendLine("transaction, steady rate, 4 paced writers) to the moment the relay's publish call that carried the event returned");
        md.AppendLine("with Kafka's acknowledgement (the library's publisher wrapped in the runner: an upper bound of the broker's ack).");
        md.AppendLine("The consumer columns are a second view: a consumer of the topic (fetch.wait.max.ms=5) receiving the record.");
        md.AppendLine("CDC's baseline (`pgoutput_receive`, measured right before in the same database): the same paced single-row commits");
        md.AppendLine("into a published table without trigger, from the COMMIT request to the row's arrival in a raw Npgsql decoder.");
        md.AppendLine();
        if (data.Latency.Count > 0)
        {
            md.AppendLine($"![latency]({latencyPng})");
            md.AppendLine();
        }

        md.AppendLine("| relay | rate | achieved | samples | p50 ms | p95 ms | p99 ms | max ms | consumer p50 ms | consumer p99 ms | baseline p50 / p99 / max ms | lost | duplicates | order violations |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var l in data.Latency)
        {
            var a = l.LatenciesMs;
            var c = l.ConsumerLatenciesMs;
            var v = l.Verification;
            md.AppendLine(Inv($"| {l.Relay.ToString().ToLowerInvariant()} | {l.Rate} | {l.AchievedRate:0} | {a.Length:N0} | {LatencyResult.Percentile(a, 50):0.00} | {LatencyResult.Percentile(a, 95):0.00} | {LatencyResult.Percentile(a, 99):0.00} | {LatencyResult.Percentile(a, 100):0.00} | {LatencyResult.Percentile(c, 50):0.00} | {LatencyResult.Percentile(c, 99):0.00} | {BaselineCell(l.BaselineLatenciesMs)} | {v.Lost} | {v.Duplicates} | {v.OrderViolations} |"));
        }

        md.AppendLine();
        if (data.Live.Count > 0)
        {
            md.AppendLine("## Live: the library as an application uses it (`live`)");
            md.AppendLine();
            md.AppendLine("4 EF Core writers (one DbContext per transaction, like a request) save one business row and E events per");
            md.AppendLine("SaveChanges through the interceptor, at a fixed rate or as fast as they can; the relay (library defaults) and a");
            md.AppendLine("plain Confluent.Kafka consumer run in the same process. Dual-write: the same save, then a direct produce that the");
            md.AppendLine("writer does not wait for (unsafe; the fastest floor). Commit to consume: from SaveChanges returning to the consumer receiving the record. CPU per");
            md.AppendLine("event: the CPU time of the run's processes over the measured seconds (the scheduler's per-process run times from");
            md.AppendLine("`/proc/<pid>/stat`), split into this process (writers, relay, consumer, clients), PostgreSQL and the embedded broker's");
            md.AppendLine("threads; other processes' share is in the last column. Results before 2026-12-02 evening used the machine's busy time");
            md.AppendLine("from `/proc/stat` instead, which this kernel samples at the timer tick and which missed about half of a paced run's");
            md.AppendLine("short bursts (2.04 s busy against 4.37 s summed over the processes in one 8 s window at 500 transactions/s).");
            md.AppendLine();
            md.AppendLine("| run | mode | tx/s | events/s | SaveChanges p50 ms | consume p50 ms | consume p99 ms | CPU ms/event | app | PostgreSQL | broker | PG transactions/event | other processes (cores) | lost | duplicates | order violations |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var (label, results) in data.Live)
            {
                foreach (var r in results)
                {
                    var v = r.Verification;
                    var other = r.Cpu is null ? 0 : r.Cpu.Other / r.Cpu.WallSeconds;
                    var consume = r.Mode.Publishes() ? Inv($"{r.ConsumeP50Ms:0.0} | {r.ConsumeP99Ms:0.0}") : "n/a | n/a";
                    var check = r.Mode.Publishes() ? Inv($"{v.Lost} | {v.Duplicates} | {v.OrderViolations}") : "n/a | n/a | n/a";
                    md.AppendLine(Inv($"| {label} | {r.Name} | {r.TransactionsPerSecond:N0} | {r.EventsPerSecond:N0} | {LatencyResult.Percentile(r.SaveMs, 50):0.00} | {consume} | {r.CpuPerEventMs:0.000} | {r.AppPerEventMs:0.000} | {r.PostgresPerEventMs:0.000} | {r.BrokerPerEventMs:0.000} | {r.CommitsPerEvent:0.00} | {other:0.00} | {check} |"));
                }
            }

            md.AppendLine();
            AppendLiveBreakdown(md, data.Live);
        }

        if (data.Inbox.Count > 0)
        {
            md.AppendLine("## Inbox");
            md.AppendLine();
            md.AppendLine("Records in the outbox record shape produced beforehand; a consumer host with a no-op handler (library defaults but");
            md.AppendLine(Inv($"MaxBatchSize, {ReportCommand.InboxPartitions} partitions) runs until the stored offsets say every record is committed (inbox row +"));
            md.AppendLine("offset + handler transaction). Baseline: a plain Confluent.Kafka consumer reading the same records.");
            md.AppendLine();
            md.AppendLine("| batch | records | msg/s | seconds | kafka_consume msg/s | ratio | lost | duplicate invocations | order violations |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var i in data.Inbox)
            {
                md.AppendLine(Inv($"| {i.Batch} | {i.Messages:N0} | {i.PerSecond:N0} | {i.Seconds:0.00} | {i.Baseline.PerSecond:N0} | {i.Ratio:0.00} | {i.Lost} | {i.DuplicateInvocations} | {i.OrderViolations} |"));
            }

            md.AppendLine();
        }

        md.AppendLine("## Where the time goes");
        md.AppendLine();
        md.AppendLine("CPU in cores (CPU seconds / wall seconds) from /proc, split into this process's .NET threads (relay, writers,");
        md.AppendLine("verifier), its librdkafka threads (producer, mock brokers, verifier's consumer), the PostgreSQL server, and other");
        md.AppendLine("processes; SQL time from Npgsql's ActivitySource, summed by statement (concurrent statements add up).");
        md.AppendLine();
        foreach (var (name, result) in data.Throughput.Select(t => ($"throughput, {t.Relay.ToString().ToLowerInvariant()}", (ScenarioResult)t))
                     .Concat(data.Latency.Select(l => ($"latency, {l.Relay.ToString().ToLowerInvariant()}", (ScenarioResult)l)))
                     .Concat(data.Inbox.Select(i => ($"inbox, batch {i.Batch}", (ScenarioResult)i))))
        {
            md.AppendLine($"**{name}**");
            md.AppendLine();
            foreach (var note in result.Notes)
            {
                md.AppendLine("- " + note.Replace("|", "\\|", StringComparison.Ordinal));
            }

            md.AppendLine();
        }

        if (data.WritePathProfile is { } profile)
        {
            md.AppendLine("## Write path: where the time and allocations go");
            md.AppendLine();
            md.AppendLine("`profile-write-path`: the SaveChanges shapes of `SaveChangesBenchmarks` run interleaved in one process (medians;");
            md.AppendLine("exact allocated bytes from `GC.GetTotalAllocatedBytes`), then the allocating types sampled from the runtime's");
            md.AppendLine("allocation events. \"outbox without commit trigger\" drops the trigger that assigns commit order: a diagnostic, not a");
            md.AppendLine("supported configuration.");
            md.AppendLine();
            md.AppendLine("```");
            md.AppendLine(profile.TrimEnd());
            md.AppendLine("```");
            md.AppendLine();
        }

        AppendMicro(md, data.Settings.MicroResultsDirectory);

        md.AppendLine("## JSON lines");
        md.AppendLine();
        md.AppendLine("```");
        if (data.Baselines is { } jb)
        {
            md.AppendLine(jb.ToJsonLine());
        }

        foreach (var t in data.Throughput)
        {
            md.AppendLine(t.ToJsonLine());
        }

        foreach (var l in data.Latency)
        {
            md.AppendLine(l.ToJsonLine());
        }

        foreach (var i in data.Inbox)
        {
            md.AppendLine(i.ToJsonLine());
        }

        md.AppendLine("```");

        var path = Path.Combine(data.Settings.OutputDirectory, stem + ".md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>
    /// Splits each mode's CPU per event into its parts, from the write-only modes run beside it: the business save alone,
    /// what the outbox adds to the write, and the rest (relay, publish, consume; for dual-write, the produce and consume).
    /// </summary>
    private static void AppendLiveBreakdown(StringBuilder md, List<(string Label, IReadOnlyList<LiveResult> Results)> live)
    {
        var rows = new List<string>();
        foreach (var (label, results) in live)
        {
            LiveResult? Find(LiveMode mode) => results.FirstOrDefault(r => r.Mode == mode);
            if (Find(LiveMode.SaveOnly) is not { } save)
            {
                continue;
            }

            foreach (var (mode, writeOnly) in new[] { (LiveMode.DualWrite, LiveMode.SaveOnly), (LiveMode.Polling, LiveMode.PollingWriteOnly), (LiveMode.Cdc, LiveMode.CdcWriteOnly) })
            {
                if (Find(mode) is not { } full || Find(writeOnly) is not { } write)
                {
                    continue;
                }

                static string Part(double total, double postgres) => Inv($"{total:0.000} ({postgres:0.000})");
                var outboxWrite = mode == LiveMode.DualWrite ? "none" : Part(write.CpuPerEventMs - save.CpuPerEventMs, write.PostgresPerEventMs - save.PostgresPerEventMs);
                rows.Add(Inv($"| {label} | {full.Name} | {Part(full.CpuPerEventMs, full.PostgresPerEventMs)} | {Part(save.CpuPerEventMs, save.PostgresPerEventMs)} | {outboxWrite} | {Part(full.CpuPerEventMs - write.CpuPerEventMs, full.PostgresPerEventMs - write.PostgresPerEventMs)} | {write.EventsPerSecond:N0} |"));
            }
        }

        if (rows.Count == 0)
        {
            return;
        }

        md.AppendLine("### Where the CPU per event goes (`live --relay breakdown`)");
        md.AppendLine();
        md.AppendLine("Each mode beside the same writers without its later stages, in the same run: `save-only` saves the business row alone");
        md.AppendLine("(no event, no produce); `polling-write-only` and `cdc-write-only` save the row and its events through the interceptor");
        md.AppendLine("into that relay's schema (the commit-order trigger for polling, none for CDC) with no relay running. Parts are");
        md.AppendLine("differences of CPU ms per event (PostgreSQL's share in brackets), so each run's noise lands in them; in the closed");
        md.AppendLine("loops the write-only modes reach higher rates than the full ones (last column), which lowers their cost per event.");
        md.AppendLine();
        md.AppendLine("| run | mode | CPU ms/event (PostgreSQL) | business save alone | outbox write on top | relay, publish and consume (dual-write: produce and consume) | write-only events/s |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            md.AppendLine(row);
        }

        md.AppendLine();
    }

    private static void AppendWritePathGoals(StringBuilder md, string? directory)
    {
        if (BenchmarkDotNetCsv.Load(directory, "SaveChangesBenchmarks") is { } saveChanges)
        {
            foreach (var n in new[] { 1, 100 })
            {
                var value = n.ToString(CultureInfo.InvariantCulture);
                if (saveChanges.Find("EntitiesWithPlainEventRows", "Entities", value) is { } plain
                    && saveChanges.Find("EntitiesWithOutboxEvents", "Entities", value) is { } outbox)
                {
                    var ratio = outbox.MeanNs / plain.MeanNs;
                    var extra = (outbox.AllocatedBytes - plain.AllocatedBytes) / n;
                    var total = outbox.AllocatedBytes / n;
                    md.AppendLine(Inv($"| write path (BenchmarkDotNet): SaveChanges of {(n == 1 ? "1 entity with 1 event" : $"{n} entities with {n} events")} | time <= 1.15x the entities plus plain rows; <= 2 KB allocated per event | {ratio:0.00}x; {extra:N0} B per event more than the baseline ({total:N0} B per event with the entity) | {(ratio <= 1.15 ? "time yes" : "time no")}, {(extra <= 2048 ? "allocations yes" : "allocations no")} |"));
                }
            }
        }

        if (BenchmarkDotNetCsv.Load(directory, "BatchEnqueueBenchmarks") is { } batch
            && batch.Find("OutboxWriterEnqueueBatch", "Rows", "1000") is { } writer
            && batch.Find("RawCopyIntoPlainTable", "Rows", "1000") is { } copyPlain
            && batch.Find("RawCopyIntoOutboxTable", "Rows", "1000") is { } copyOutbox
            && batch.Find("MultiValuesInsertIntoOutboxTable", "Rows", "1000") is { } multi)
        {
            var share = copyPlain.MeanNs / writer.MeanNs;
            md.AppendLine(Inv($"| write path (BenchmarkDotNet): EnqueueBatchAsync of 1,000 events | >= 60% of the rate of a raw binary COPY of the same rows | {share:P0} of COPY into a trigger-less table of the outbox shape; {copyOutbox.MeanNs / writer.MeanNs:P0} of COPY into the outbox table itself | {(share >= 0.6 ? "yes" : "no")} |"));
            var copyFaster = copyOutbox.MeanNs < multi.MeanNs;
            md.AppendLine(Inv($"| write path: binary COPY or a 1,000-row multi-VALUES INSERT? | measure which is faster | COPY {copyOutbox.MeanNs / 1e6:0.0} ms, multi-VALUES INSERT {multi.MeanNs / 1e6:0.0} ms (into the outbox table): {(copyFaster ? "COPY" : "multi-VALUES INSERT")} is faster | |"));
        }
    }

    private static void AppendMicro(StringBuilder md, string? directory)
    {
        if (directory is null || !Directory.Exists(directory))
        {
            return;
        }

        md.AppendLine("## Micro-benchmarks (BenchmarkDotNet)");
        md.AppendLine();
        foreach (var file in Directory.GetFiles(directory, "*-report-github.md").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file).Replace("-report-github.md", "", StringComparison.Ordinal);
            md.AppendLine($"### {name[(name.LastIndexOf('.') + 1)..]}");
            md.AppendLine();
            md.AppendLine(File.ReadAllText(file).Trim());
            md.AppendLine();
        }
    }

    private static string BaselineCell(double[] baseline) =>
        baseline.Length == 0
            ? "n/a"
            : Inv($"{LatencyResult.Percentile(baseline, 50):0.00} / {LatencyResult.Percentile(baseline, 99):0.00} / {LatencyResult.Percentile(baseline, 100):0.00}");

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
