namespace Outbox.Testing;

/// <summary>A command line to run: a program, its arguments and the directory to run it in.</summary>
internal sealed record ProcessCommand(string FileName, IReadOnlyList<string> Arguments, string? WorkingDirectory = null)
{
    /// <summary>runuser lives in /usr/sbin or /sbin, which a non-login PATH may lack.</summary>
    private static readonly Lazy<string> s_runUser = new(() =>
        new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser" }.FirstOrDefault(File.Exists) ?? "runuser");

    /// <summary>Wraps the command in <c>runuser -u USER --</c> so it runs as another user (we are root).</summary>
    public ProcessCommand AsUser(string? userName) => userName is null
        ? this
        : new ProcessCommand(s_runUser.Value, ["-u", userName, "--", FileName, .. Arguments], WorkingDirectory);

    public override string ToString() => FileName + " " + string.Join(' ', Arguments);
}
