using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Outbox.TestSupport;

/// <summary>Keeps the log lines of warning level and above, so that a test can wait for the error the library reported.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Text)> _lines = new();

    public IReadOnlyList<(LogLevel Level, int EventId, string Text)> Lines => _lines.ToArray();

    public int Count(Func<(LogLevel Level, int EventId, string Text), bool> predicate) => _lines.Count(predicate);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                capture._lines.Enqueue((logLevel, eventId.Id, formatter(state, exception) + (exception is null ? "" : " | " + exception)));
            }
        }
    }
}
