namespace Outbox.Testing;

/// <summary>The outcome of a finished external process: its exit code and what it printed.</summary>
internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public string Output => string.IsNullOrWhiteSpace(StandardError)
        ? StandardOutput.Trim()
        : (StandardOutput + Environment.NewLine + StandardError).Trim();
}
