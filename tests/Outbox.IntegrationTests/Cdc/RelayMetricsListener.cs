using System.Diagnostics.Metrics;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>Sums the relays' outbox.relay.* measurements of one topic (and those without a topic), per relay type.</summary>
internal sealed class RelayMetricsListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, double> _sums = [];

    public RelayMetricsListener(string topic)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name.StartsWith("outbox.relay.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags, topic));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags, topic));
        _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Record(instrument.Name, 1, tags, topic));
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="instrument"/> for <paramref name="relay"/> (a histogram: how many values), optionally of one error type.</summary>
    public double Sum(string instrument, string relay, string? errorType = null)
    {
        lock (_sums)
        {
            return _sums.GetValueOrDefault($"{instrument}|{relay}|{errorType}");
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(string instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, string topic)
    {
        string? relay = null;
        string? destination = null;
        string? errorType = null;
        foreach (var tag in tags)
        {
            switch (tag.Key)
            {
                case "outbox.relay.type":
                    relay = tag.Value as string;
                    break;
                case "messaging.destination.name":
                    destination = tag.Value as string;
                    break;
                case "error.type":
                    errorType = tag.Value as string;
                    break;
            }
        }

        if (destination is not null && destination != topic)
        {
            return;
        }

        lock (_sums)
        {
            foreach (var key in new[] { $"{instrument}|{relay}|", $"{instrument}|{relay}|{errorType}" }.Distinct())
            {
                _sums[key] = _sums.GetValueOrDefault(key) + value;
            }
        }
    }
}
