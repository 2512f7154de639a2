using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Outbox;

/// <summary>
/// The <c>enqueue</c> span and counter of the write path, shared by its two writers (the EF Core interceptor here and
/// the ADO.NET writer of Outbox.PostgreSql). One per container, on the container's <c>Outbox</c> meter.
/// </summary>
internal sealed class EnqueueTelemetry
{
    private readonly Counter<long> _enqueued;

    public EnqueueTelemetry(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _enqueued = meterFactory.Create(OutboxDiagnostics.EnqueueSourceName).CreateCounter<long>(
            "outbox.messages.enqueued", "{message}", "Outbox rows written (counted when SaveChanges wrote them; a rollback afterwards is not subtracted).");
    }

    /// <summary>Starts the span and makes it current, so that the rows created next store its trace context.</summary>
    public static Activity? Start(string writer, int count)
    {
        if (!OutboxTelemetry.EnqueueSource.HasListeners())
        {
            return null;
        }

        var activity = OutboxTelemetry.EnqueueSource.StartActivity("outbox enqueue", ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("outbox.writer", writer);
            activity.SetTag(MessagingAttributes.MessageCount, count);
        }

        return activity;
    }

    public void Written(IEnumerable<OutboxMessage> messages)
    {
        if (!_enqueued.Enabled)
        {
            return;
        }

        foreach (var group in messages.GroupBy(m => m.AggregateType, StringComparer.Ordinal))
        {
            _enqueued.Add(group.LongCount(), new KeyValuePair<string, object?>(MessagingAttributes.AggregateType, group.Key));
        }
    }

    public void Written(List<(OutboxMessage Message, EntityFrameworkCore.WrittenEvent Source)> rows)
    {
        if (_enqueued.Enabled)
        {
            Written(rows.Select(r => r.Message));
        }
    }

    public static void Stop(Activity? activity, object? error)
    {
        if (activity is null)
        {
            return;
        }

        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error is Exception ex ? ex.Message : error.ToString());
            if (error is Exception e)
            {
                activity.SetTag(MessagingAttributes.ErrorType, e.GetType().FullName);
            }
        }

        var parent = activity.Parent;
        activity.Stop();

        // Stop makes the parent current only on the flow that is running: keep the caller's flow consistent.
        if (Activity.Current == activity)
        {
            Activity.Current = parent;
        }
    }
}
