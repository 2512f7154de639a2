namespace Outbox.IntegrationTests.Observability;

/// <summary>
/// Tests that read the OpenTelemetry SDK's process-wide listeners run alone. Every host in this process creates its
/// meters under the same names, and the SDK merges instruments of the same name into one metric stream: when a host
/// of a test running in parallel stops and disposes its meters, the SDK retires that shared stream and the
/// measurements of the host still running are no longer exported.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideListenerCollection
{
    public const string Name = "process-wide OpenTelemetry listeners";
}
