using System.Globalization;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Outbox.TestSupport;

/// <summary>
/// Sends a host's log lines to the test output (shown when a test fails), each tagged with <paramref name="name"/>,
/// and their event ids to <paramref name="logged"/> when given (a test may wait for a log line).
/// </summary>
public sealed class TestOutputLoggerProvider(
    ITestOutputHelper output, string name, LogLevel minimum = LogLevel.Information, Action<EventId>? logged = null) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName)
    {
        ArgumentNullException.ThrowIfNull(categoryName);
        return new Logger(output, name, categoryName[(categoryName.LastIndexOf('.') + 1)..], minimum, logged);
    }

    public void Dispose()
    {
    }

    private sealed class Logger(ITestOutputHelper output, string name, string category, LogLevel minimum, Action<EventId>? logged) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            logged?.Invoke(eventId);
            try
            {
                var time = DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
                output.WriteLine($"{time} [{name}] {logLevel} {category}[{eventId.Id}]: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
            }
            catch (InvalidOperationException)
            {
                // The test has finished; its output is closed.
            }
        }
    }
}
