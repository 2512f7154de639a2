using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro;

/// <summary><c>baselines</c>: the four raw limits, with the same rows and record sizes the library uses.</summary>
internal static class BaselinesScenario
{
    public static async Task<BaselinesResult> RunAsync(BenchInfrastructure infrastructure, int messages, int writers, int drainWorkers, int partitions, CancellationToken cancellationToken)
    {
        var workload = new Workload(Workload.NewRunId(), messages);
        Progress.Line(Fmt.Inv($"baselines: {messages:N0} rows of ~{workload.Event(0).Note.Length + 60} bytes, {writers} writer(s), {drainWorkers} drain worker(s), {partitions} partitions"));
        await using var database = await infrastructure.CreateDatabaseAsync("bench_baselines", cancellationToken);
        var connectionString = database.ConnectionString;
        await using var baselines = await Baselines.CreateAsync(connectionString, workload, cancellationToken);

        var copy = await baselines.CopyInsertAsync(writers, cancellationToken);
        Progress.Line(Fmt.Inv($"copy_insert: {Fmt.Rate(copy.PerSecond)} rows/s ({copy.Seconds:0.00}s)"));
        var claim = await baselines.ClaimDeleteAsync(drainWorkers, cancellationToken);
        Progress.Line(Fmt.Inv($"claim_delete: {Fmt.Rate(claim.PerSecond)} rows/s ({claim.Seconds:0.00}s)"));
        var decode = await baselines.PgOutputDecodeAsync(writers, cancellationToken);
        Progress.Line(Fmt.Inv($"pgoutput_decode: {Fmt.Rate(decode.PerSecond)} rows/s ({decode.Seconds:0.00}s)"));
        var (produce, verification) = await baselines.KafkaProduceAsync(infrastructure, partitions, cancellationToken);
        Progress.Line(Fmt.Inv($"kafka_produce: {Fmt.Rate(produce.PerSecond)} records/s ({produce.Seconds:0.00}s); lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
        return new BaselinesResult(messages, writers, partitions, copy, claim, decode, produce, verification);
    }
}
