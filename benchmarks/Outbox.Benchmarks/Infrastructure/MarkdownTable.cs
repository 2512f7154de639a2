namespace Outbox.Benchmarks.Infrastructure;

/// <summary>A result table printed as Markdown, so that a run's output can be pasted into <c>benchmarks/results</c> as it is.</summary>
internal sealed class MarkdownTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"The table has {headers.Length} columns, the row {cells.Length}.", nameof(cells));
        }

        _rows.Add(cells);
    }

    public IEnumerable<string> Lines()
    {
        yield return "| " + string.Join(" | ", headers) + " |";
        yield return "|" + string.Join("|", headers.Select(_ => "---")) + "|";
        foreach (var row in _rows)
        {
            yield return "| " + string.Join(" | ", row) + " |";
        }
    }
}
