using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Outbox.TestSupport;

/// <summary>
/// An <see cref="IMeterFactory"/> for engines a test builds without a container: one meter per name (like the
/// container's), disposed with the factory. A <c>MetricCollector</c> built on it observes only this test's meters.
/// </summary>
public sealed class TestMeterFactory : IMeterFactory
{
    private readonly ConcurrentDictionary<(string Name, string? Version), Meter> _meters = new();

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return _meters.GetOrAdd((options.Name, options.Version), _ => new Meter(new MeterOptions(options.Name)
        {
            Version = options.Version,
            Tags = options.Tags,
            Scope = this,
        }));
    }

    public void Dispose()
    {
        foreach (var meter in _meters.Values)
        {
            meter.Dispose();
        }

        _meters.Clear();
    }
}
