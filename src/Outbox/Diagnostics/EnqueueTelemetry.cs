using System.Diagnostics;

namespace Outbox;

/// <summary>The <c>enqueue</c> span and counter of the write path (EF Core interceptor and ADO.NET writer).</summary>
internal static class EnqueueTelemetry
{
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

    public static void Written(IEnumerable<OutboxMessage> messages)
    {
        if (!OutboxTelemetry.Enqueued.Enabled)
        {
            return;
        }

        foreach (var group in messages.GroupBy(m => m.AggregateType, StringComparer.Ordinal))
        {
            OutboxTelemetry.Enqueued.Add(group.LongCount(), new KeyValuePair<string, object?>(MessagingAttributes.AggregateType, group.Key));
        }
    }

    public static void Written(List<(OutboxMessage Message, EntityFrameworkCore.WrittenEvent Source)> rows)
    {
        if (OutboxTelemetry.Enqueued.Enabled)
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
