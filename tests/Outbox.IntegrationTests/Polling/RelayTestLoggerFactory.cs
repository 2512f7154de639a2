using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>A logger factory for bare relay engines, writing to the test output.</summary>
public sealed class RelayTestLoggerFactory(ITestOutputHelper output, string name) : ILoggerFactory
{
    private readonly RelayTestLoggerProvider _provider = new(output, name);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
