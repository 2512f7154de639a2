using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Outbox;

/// <summary>
/// The activity sources (static, like the runtime's own: listeners select them by name, so each package's own instances
/// of the same names are one source to a listener). The instruments live with
/// their feature, on meters from the container's <see cref="IMeterFactory"/> (one meter per name per container):
/// <c>EnqueueTelemetry</c> (in Outbox), <c>RelayTelemetry</c> (in Outbox.PostgreSql), <c>InboxTelemetry</c> (in Outbox.Kafka).
/// </summary>
internal static class OutboxTelemetry
{
    public static readonly ActivitySource EnqueueSource = new(OutboxDiagnostics.EnqueueSourceName);
    public static readonly ActivitySource RelaySource = new(OutboxDiagnostics.RelaySourceName);
    public static readonly ActivitySource InboxSource = new(OutboxDiagnostics.InboxSourceName);

    /// <summary>Starts a span that is a new root even when an activity is current, and keeps the current one current.</summary>
    public static Activity? StartRoot(ActivitySource source, string name, ActivityKind kind, TagList tags, IEnumerable<ActivityLink>? links)
    {
        if (!source.HasListeners())
        {
            return null;
        }

        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            return source.StartActivity(kind, default, tags, links, default, name);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    /// <summary>Parses a W3C <c>traceparent</c> (and <c>tracestate</c>); default when absent or malformed.</summary>
    public static ActivityContext ParseTraceParent(string? traceParent, string? traceState) =>
        traceParent is { Length: > 0 } && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
}
