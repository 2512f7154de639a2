using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Outbox.TestSupport;

/// <summary>A logger factory for engines built without a host, writing to the test output.</summary>
public sealed class TestOutputLoggerFactory(ITestOutputHelper output, string name) : ILoggerFactory
{
    private readonly TestOutputLoggerProvider _provider = new(output, name);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
