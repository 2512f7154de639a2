using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Outbox.Testing.Tests;

/// <summary>The Docker probe answers quickly and never hangs, whatever listens on the socket.</summary>
public sealed class DockerProbeTests : IDisposable
{
    private readonly string _socketPath = Path.Combine(Path.GetTempPath(), $"outbox-docker-{Guid.NewGuid():N}.sock");
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    [Fact]
    public async Task An_engine_that_answers_the_ping_is_available()
    {
        Listen();
        var serving = ServeOnceAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");

        var result = await DockerProbe.ProbeAsync(["unix://" + _socketPath], TimeSpan.FromSeconds(30));

        Assert.True(result.IsAvailable, result.Description);
        await serving;
    }

    [Fact]
    public async Task A_socket_that_accepts_but_never_answers_is_given_up_after_the_timeout()
    {
        Listen();
        var accepting = _listener.AcceptAsync();
        var clock = Stopwatch.StartNew();

        var result = await DockerProbe.ProbeAsync(["unix://" + _socketPath], TimeSpan.FromMilliseconds(300));

        Assert.False(result.IsAvailable);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        (await accepting).Dispose();
    }

    [Fact]
    public async Task Missing_sockets_refusals_and_malformed_hosts_are_not_available()
    {
        var result = await DockerProbe.ProbeAsync(
            ["unix://" + _socketPath, "tcp://127.0.0.1:1", "not a uri", "ssh://somewhere"], TimeSpan.FromSeconds(5));

        Assert.False(result.IsAvailable);
        Assert.Contains("no Docker engine answered", result.Description, StringComparison.Ordinal);
        Assert.False((await DockerProbe.ProbeAsync([], TimeSpan.FromSeconds(1))).IsAvailable);
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(_socketPath);
    }

    private void Listen()
    {
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _listener.Listen();
    }

    private async Task ServeOnceAsync(string response)
    {
        using var connection = await _listener.AcceptAsync();
        var buffer = new byte[1024];
        var request = new StringBuilder();
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await connection.ReceiveAsync(buffer);
            if (read == 0)
            {
                break;
            }

            request.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        Assert.StartsWith("GET /_ping ", request.ToString(), StringComparison.Ordinal);
        await connection.SendAsync(Encoding.ASCII.GetBytes(response));
    }
}
