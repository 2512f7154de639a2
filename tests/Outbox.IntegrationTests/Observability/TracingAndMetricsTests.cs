using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Outbox.IntegrationTests.Inbox;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Observability;

[Collection(ProcessWideListenerCollection.Name)]
public sealed class TracingAndMetricsTests(ITestOutputHelper output)
{
    private static readonly ActivitySource s_web = new("Outbox.IntegrationTests.Web");

    [Fact]
    public async Task One_trace_runs_from_the_web_request_through_the_relay_to_the_handler_and_the_metrics_count_what_happened()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(s_web.Name)
            .AddSource([.. OutboxDiagnostics.SourceNames])
            .AddInMemoryExporter(spans)
            .Build();
        using var meters = Sdk.CreateMeterProviderBuilder()
            .AddMeter([.. OutboxDiagnostics.SourceNames])
            .AddInMemoryExporter(metrics)
            .Build();

        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var host = await harness.StartConsumerAsync(group, new HandlerBehavior(), withPollingRelay: true);

        // The "web request": an activity around a SaveChanges that records an event.
        ActivityTraceId traceId;
        ActivitySpanId requestSpanId;
        using (var request = s_web.StartActivity("POST /movies/start", ActivityKind.Server)!)
        {
            traceId = request.TraceId;
            requestSpanId = request.SpanId;
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<InboxTestDb>();
            db.Outbox().Add(new MovieStarted("u1", 1));
            await db.SaveChangesAsync();
        }

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the handler ran");
        var eventId = (await harness.EffectsAsync())[0].EventId;

        // The same record again (a relay duplicate): the inbox skips it.
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new MovieStarted("u1", 1)), eventId, nameof(MovieStarted));
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 2, "the duplicate is consumed");
        await harness.StopAsync(host);
        // Dispose (flushes, then stops listening): tests running in parallel in this process use the same sources, and
        // the exporter's list must not grow while the assertions read it.
        tracing.Dispose();
        meters.Dispose();

        var trace = spans.Where(s => s.TraceId == traceId).ToList();
        var enqueue = Assert.Single(trace, s => s.Source.Name == OutboxDiagnostics.EnqueueSourceName);
        Assert.Equal(requestSpanId, enqueue.ParentSpanId);

        // Relay: a new root, linked to the enqueue span whose context the row stored.
        var send = Assert.Single(spans, s => s.Source.Name == OutboxDiagnostics.RelaySourceName && Equals(s.GetTagItem("messaging.message.id"), eventId));
        Assert.Equal(default, send.ParentSpanId);
        Assert.NotEqual(traceId, send.TraceId);
        var link = Assert.Single(send.Links);
        Assert.Equal(traceId, link.Context.TraceId);
        Assert.Equal(enqueue.SpanId, link.Context.SpanId);
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal("kafka", send.GetTagItem("messaging.system"));
        Assert.Equal("send", send.GetTagItem("messaging.operation.type"));
        Assert.Equal(harness.MovieTopic, send.GetTagItem("messaging.destination.name"));
        Assert.Equal("u1", send.GetTagItem("messaging.kafka.message.key"));
        Assert.Equal("0", send.GetTagItem("messaging.destination.partition.id"));
        Assert.Equal(0L, send.GetTagItem("messaging.kafka.offset"));

        // Handler: a child of the traceparent header, so it is in the request's trace under the enqueue span.
        var process = Assert.Single(trace, s => s.Source.Name == OutboxDiagnostics.InboxSourceName);
        Assert.Equal(enqueue.SpanId, process.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal("process", process.GetTagItem("messaging.operation.type"));
        Assert.Equal(group, process.GetTagItem("messaging.consumer.group.name"));
        Assert.Equal(eventId, process.GetTagItem("messaging.message.id"));
        Assert.Equal(0L, process.GetTagItem("messaging.kafka.offset"));

        // The duplicate has no handler span: only one process span carries the id.
        Assert.Single(spans, s => s.Source.Name == OutboxDiagnostics.InboxSourceName && Equals(s.GetTagItem("messaging.message.id"), eventId));

        var topic = ("messaging.destination.name", (object)harness.MovieTopic);
        var inGroup = ("messaging.consumer.group.name", (object)group);
        Assert.Equal(1, Sum(metrics, "outbox.relay.published", topic));
        Assert.Equal(0, Sum(metrics, "outbox.relay.failed", topic));
        Assert.Equal(1, Sum(metrics, "messaging.client.sent.messages", topic));
        Assert.Equal(1, Sum(metrics, "outbox.inbox.handled", topic, inGroup));
        Assert.Equal(1, Sum(metrics, "outbox.inbox.duplicates", topic, inGroup));
        Assert.Equal(0, Sum(metrics, "outbox.inbox.dead_lettered", topic, inGroup));
        Assert.Equal(1, HistogramCount(metrics, "outbox.inbox.handler.duration", topic, inGroup));
        Assert.True(HistogramCount(metrics, "outbox.relay.batch.duration") >= 1);
    }

    internal static long Sum(List<Metric> metrics, string name, params (string Key, object Value)[] tags) =>
        Points(metrics, name, tags).Sum(p => p.GetSumLong());

    internal static long HistogramCount(List<Metric> metrics, string name, params (string Key, object Value)[] tags) =>
        Points(metrics, name, tags).Sum(p => p.GetHistogramCount());

    private static List<MetricPoint> Points(List<Metric> metrics, string name, (string Key, object Value)[] tags)
    {
        // Cumulative temporality: the last export of an instrument holds the totals.
        var metric = metrics.LastOrDefault(m => m.Name == name);
        var points = new List<MetricPoint>();
        if (metric is null)
        {
            return points;
        }

        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var pointTags = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                pointTags[tag.Key] = tag.Value;
            }

            if (tags.All(t => pointTags.TryGetValue(t.Key, out var v) && Equals(v, t.Value)))
            {
                points.Add(point);
            }
        }

        return points;
    }
}
