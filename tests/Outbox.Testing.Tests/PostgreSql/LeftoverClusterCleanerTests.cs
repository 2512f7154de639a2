using System.Diagnostics;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>
/// The leftover cleaner on a /tmp shared by several users and containers: it removes a cluster directory only when the
/// owner file proves the creator dead (same user, boot and pid namespace; pid gone or reused), and leaves anything
/// else alone, saying so once.
/// </summary>
public sealed class LeftoverClusterCleanerTests(ITestOutputHelper output) : IDisposable
{
    // A base directory of its own: the cleaners of test processes running in parallel never scan it.
    private readonly string _base = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "outbox-cleaner-test-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Theory]
    [InlineData("owner process gone", true)]
    [InlineData("owner process a zombie", true)]
    [InlineData("pid reused by a younger process", true)]
    [InlineData("owner process alive", false)]
    [InlineData("another user", false)]
    [InlineData("another boot", false)]
    [InlineData("another pid namespace", false)]
    [InlineData("no owner file", false)]
    [InlineData("malformed owner file", false)]
    public async Task Removes_a_directory_only_when_its_owner_is_proven_dead(string situation, bool removed)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // Proving a creator dead needs /proc.
        }

        var self = ClusterOwner.Current();
        Assert.NotNull(self);
        var deadPid = await DeadProcessIdAsync();
        using var zombieParent = situation == "owner process a zombie" ? StartZombieParent() : null;
        var zombiePid = zombieParent is null ? 0 : await ZombiePidAsync(zombieParent);

        var owner = situation switch
        {
            "owner process gone" => self with { ProcessId = deadPid, StartTime = 12345 },
            "owner process a zombie" => ClusterOwner.ForProcess(zombiePid),
            "pid reused by a younger process" => self with { StartTime = self.StartTime - 1 },
            "owner process alive" => self,
            "another user" => self with { UserId = self.UserId + 1, ProcessId = deadPid },
            "another boot" => self with { BootId = Guid.NewGuid().ToString(), ProcessId = deadPid },
            "another pid namespace" => self with { PidNamespace = "pid:[1]", ProcessId = deadPid },
            _ => null,
        };
        var directory = Path.Combine(_base, $"{LocalPostgresCluster.DirectoryPrefix}{owner?.ProcessId ?? deadPid}-0123abcd");
        Directory.CreateDirectory(Path.Combine(directory, "data"));
        owner?.WriteTo(directory);
        if (situation == "malformed owner file")
        {
            await File.WriteAllTextAsync(Path.Combine(directory, ClusterOwner.FileName), "pid=" + deadPid);
        }

        try
        {
            var lines = new List<string>();
            var count = await CleanAsync(lines);
            // A second pass (another test server starting in this process) must not repeat the message.
            await CleanAsync(lines);

            Assert.Equal(removed, !Directory.Exists(directory));
            Assert.Equal(removed ? 1 : 0, count);
            var mentions = lines.Count(line => line.Contains(directory, StringComparison.Ordinal) && line.Contains("left " + directory + " alone", StringComparison.Ordinal));
            Assert.Equal(removed || situation == "owner process alive" ? 0 : 1, mentions);
        }
        finally
        {
            zombieParent?.Kill();
        }
    }

    [Fact]
    public async Task A_new_cluster_directory_has_an_owner_file_naming_this_process()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // No owner file is written where /proc cannot prove anything.
        }

        var binaries = await PostgresBinaries.FindAsync(CancellationToken.None);
        Assert.NotNull(binaries);

        await using var cluster = await LocalPostgresCluster.StartNewAsync(
            binaries, [], TestOutputLog.For(output), TimeSpan.FromSeconds(60), CancellationToken.None, baseDirectory: _base);

        Assert.Equal(ClusterOwner.Current(), ClusterOwner.TryRead(cluster.RootDirectory, out var problem));
        Assert.Null(problem);
        Assert.Equal(0, await LeftoverClusterCleaner.CleanAsync([_base], binaries, TestOutputLog.For(output)));
        Assert.True(Directory.Exists(cluster.DataDirectory));
    }

    private async Task<int> CleanAsync(List<string> lines)
    {
        var binaries = await PostgresBinaries.FindAsync(CancellationToken.None);
        Assert.NotNull(binaries);
        var log = TestOutputLog.For(output);
        return await LeftoverClusterCleaner.CleanAsync([_base], binaries, line =>
        {
            lines.Add(line);
            log(line);
        });
    }

    internal static async Task<int> DeadProcessIdAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        return process.Id;
    }

    /// <summary>
    /// `sleep 0` exits at once, and its new parent (the exec'ed `sleep 30`) never reaps it: a zombie, like a SIGKILLed
    /// test host whose parent has not collected it yet.
    /// </summary>
    internal static Process StartZombieParent() =>
        Process.Start(new ProcessStartInfo("sh", ["-c", "sleep 0 & echo $!; exec sleep 30"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;

    internal static async Task<int> ZombiePidAsync(Process parent)
    {
        var zombie = int.Parse((await parent.StandardOutput.ReadLineAsync())!, System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.TrueAsync(
            () => File.Exists($"/proc/{zombie}/stat") && File.ReadAllText($"/proc/{zombie}/stat").Contains(") Z ", StringComparison.Ordinal),
            "the child is a zombie",
            TimeSpan.FromSeconds(20));
        return zombie;
    }
}
