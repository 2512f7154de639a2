namespace Outbox.Testing;

/// <summary>A command line to run: a program, its arguments and the directory to run it in.</summary>
internal sealed record ProcessCommand(string FileName, IReadOnlyList<string> Arguments, string? WorkingDirectory = null)
{
    /// <summary>Wraps the command in <c>runuser -u USER --</c> so it runs as another user (we are root).</summary>
    public ProcessCommand AsUser(string? userName) => userName is null
        ? this
        : new ProcessCommand("runuser", ["-u", userName, "--", FileName, .. Arguments], WorkingDirectory);

    public override string ToString() => FileName + " " + string.Join(' ', Arguments);
}
