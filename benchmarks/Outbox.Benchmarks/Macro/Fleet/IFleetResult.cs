namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>A result of the <c>fleet</c> command: besides its JSON line, a Markdown table and the lines that read it.</summary>
internal interface IFleetResult
{
    /// <summary>The scenario's name (<c>fairness</c>, <c>scale</c>, <c>connections</c>).</summary>
    string Title { get; }

    IEnumerable<string> Report();
}
