using Xunit.Abstractions;
using Xunit.Sdk;

namespace Outbox.Testing.Tests;

/// <summary>One PostgreSQL server and one Kafka cluster for every test class in <see cref="InfrastructureCollection"/>.</summary>
public sealed class InfrastructureFixture : TestInfrastructure, IAsyncLifetime
{
    public InfrastructureFixture(IMessageSink diagnostics)
        : base(
            new PostgresServerOptions { Log = line => diagnostics.OnMessage(new DiagnosticMessage(line)) },
            new KafkaServerOptions { Log = line => diagnostics.OnMessage(new DiagnosticMessage(line)) })
    {
    }

    Task IAsyncLifetime.InitializeAsync() => StartAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}
