namespace Outbox.Testing;

/// <summary>
/// One <see cref="PostgresServer"/> and one <see cref="KafkaServer"/>, started together and shared by many tests:
/// the base of a test framework's shared fixture (such as an xUnit collection fixture), with no dependency on any
/// test framework.
/// </summary>
/// <example>
/// An xUnit collection fixture:
/// <code>
/// public sealed class InfrastructureFixture : TestInfrastructure, IAsyncLifetime
/// {
///     Task IAsyncLifetime.InitializeAsync() => StartAsync();
///     Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
/// }
/// </code>
/// Test classes then call <c>fixture.Postgres.CreateDatabaseAsync(...)</c> for a database of their own (or
/// <c>CreateTestDatabaseAsync(...)</c>, whose result also names a replication slot of its own for a CDC relay) and use
/// topic names of their own, so that they can run in parallel.
/// </example>
public class TestInfrastructure : IAsyncDisposable
{
    private readonly PostgresServerOptions _postgresOptions;
    private readonly KafkaServerOptions _kafkaOptions;
    private PostgresServer? _postgres;
    private KafkaServer? _kafka;
    private int _disposed;

    /// <summary>Initializes a new instance that starts both servers with the given options.</summary>
    /// <param name="postgresOptions">The PostgreSQL options; <see langword="null"/> for the defaults.</param>
    /// <param name="kafkaOptions">The Kafka options; <see langword="null"/> for the defaults.</param>
    public TestInfrastructure(PostgresServerOptions? postgresOptions = null, KafkaServerOptions? kafkaOptions = null)
    {
        _postgresOptions = postgresOptions ?? new PostgresServerOptions();
        _kafkaOptions = kafkaOptions ?? new KafkaServerOptions();
    }

    /// <summary>Gets the shared PostgreSQL server.</summary>
    /// <exception cref="InvalidOperationException"><see cref="StartAsync"/> has not completed.</exception>
    public PostgresServer Postgres => _postgres ?? throw NotStarted();

    /// <summary>Gets the shared Kafka server.</summary>
    /// <exception cref="InvalidOperationException"><see cref="StartAsync"/> has not completed.</exception>
    public KafkaServer Kafka => _kafka ?? throw NotStarted();

    /// <summary>Starts both servers concurrently. If one fails, the other is stopped and the failure is thrown.</summary>
    /// <param name="cancellationToken">A token to cancel the start.</param>
    /// <returns>A task that completes when both servers are ready.</returns>
    /// <exception cref="InvalidOperationException">Already started, or a server could not be started.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_postgres is not null || _kafka is not null)
        {
            throw new InvalidOperationException("The test infrastructure is already started.");
        }

        var postgres = PostgresServer.StartAsync(_postgresOptions, cancellationToken);
        var kafka = KafkaServer.StartAsync(_kafkaOptions, cancellationToken);
        try
        {
            await Task.WhenAll(postgres, kafka).ConfigureAwait(false);
        }
        catch
        {
            if (postgres.IsCompletedSuccessfully)
            {
                await (await postgres.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }

            if (kafka.IsCompletedSuccessfully)
            {
                await (await kafka.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        _postgres = await postgres.ConfigureAwait(false);
        _kafka = await kafka.ConfigureAwait(false);
    }

    /// <summary>Stops both servers; calling it again does nothing.</summary>
    /// <returns>A task that completes when both servers are stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops both servers. Derived classes that own more resources override this and call the base.</summary>
    /// <returns>A task that completes when both servers are stopped.</returns>
    protected virtual async ValueTask DisposeAsyncCore()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_kafka is not null)
        {
            await _kafka.DisposeAsync().ConfigureAwait(false);
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static InvalidOperationException NotStarted() =>
        new("The test infrastructure is not started: await StartAsync() first (an xUnit fixture does it in InitializeAsync).");
}
