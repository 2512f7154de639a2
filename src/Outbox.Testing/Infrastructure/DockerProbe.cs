using System.IO.Pipes;
using System.Net.Sockets;
using System.Text;

namespace Outbox.Testing;

/// <summary>
/// Answers "does a Docker engine answer here?" cheaply: a <c>GET /_ping</c> on the engine's socket with a short
/// timeout, instead of letting Testcontainers discover the absence of Docker slowly.
/// </summary>
internal static class DockerProbe
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(2);
    private static readonly Lazy<Task<DockerProbeResult>> s_result = new(ProbeAsync);

    /// <summary>The probe runs once per process; later callers get the cached answer.</summary>
    public static Task<DockerProbeResult> DetectAsync() => s_result.Value;

    private static Task<DockerProbeResult> ProbeAsync() =>
        ProbeAsync(Candidates().Distinct(StringComparer.Ordinal).ToList(), s_timeout);

    /// <summary>Pings each endpoint (<c>unix://</c>, <c>tcp://</c>, <c>npipe://</c>) for at most <paramref name="timeout"/>.</summary>
    internal static async Task<DockerProbeResult> ProbeAsync(IReadOnlyList<string> endpoints, TimeSpan timeout)
    {
        if (endpoints.Count == 0)
        {
            return new DockerProbeResult(false, "no DOCKER_HOST and no Docker socket found");
        }

        foreach (var endpoint in endpoints)
        {
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                if (await PingAsync(endpoint, deadline.Token).ConfigureAwait(false))
                {
                    return new DockerProbeResult(true, $"Docker engine answered at {endpoint}");
                }
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException
                                                  or TimeoutException or UnauthorizedAccessException or UriFormatException)
            {
                // Try the next endpoint.
            }
        }

        return new DockerProbeResult(false, $"no Docker engine answered at {string.Join(", ", endpoints)}");
    }

    private static IEnumerable<string> Candidates()
    {
        var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            yield return dockerHost.Trim();
            yield break;
        }

        if (OperatingSystem.IsWindows())
        {
            yield return "npipe://./pipe/docker_engine";
            yield break;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var runtimeDirectory = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string?[] sockets =
        [
            "/var/run/docker.sock",
            string.IsNullOrEmpty(runtimeDirectory) ? null : Path.Combine(runtimeDirectory, "docker.sock"),
            string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".docker", "run", "docker.sock"),
            string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".docker", "desktop", "docker.sock"),
        ];
        foreach (var socket in sockets)
        {
            if (socket is not null && File.Exists(socket))
            {
                yield return "unix://" + socket;
            }
        }
    }

    private static async Task<bool> PingAsync(string endpoint, CancellationToken cancellationToken)
    {
        var uri = new Uri(endpoint);
        switch (uri.Scheme)
        {
            case "unix":
            {
                using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(uri.AbsolutePath), cancellationToken)
                    .ConfigureAwait(false);
                var stream = new NetworkStream(socket, ownsSocket: false);
                await using (stream.ConfigureAwait(false))
                {
                    return await PingOverAsync(stream, cancellationToken).ConfigureAwait(false);
                }
            }

            case "tcp":
            {
                using var client = new TcpClient();
                await client.ConnectAsync(uri.Host, uri.Port, cancellationToken).ConfigureAwait(false);
                var tls = Environment.GetEnvironmentVariable("DOCKER_TLS_VERIFY");
                if (!string.IsNullOrEmpty(tls) && tls != "0")
                {
                    // Speaking TLS here would need the client certificates: a connectable port is answer enough.
                    return true;
                }

                return await PingOverAsync(client.GetStream(), cancellationToken).ConfigureAwait(false);
            }

            case "npipe":
            {
                var pipeName = uri.AbsolutePath.Replace("/pipe/", string.Empty, StringComparison.Ordinal).TrimStart('/');
                var pipe = new NamedPipeClientStream(uri.Host, pipeName, PipeDirection.InOut, PipeOptions.Asynchronous);
                await using (pipe.ConfigureAwait(false))
                {
                    await pipe.ConnectAsync(cancellationToken).ConfigureAwait(false);
                    return await PingOverAsync(pipe, cancellationToken).ConfigureAwait(false);
                }
            }

            default:
                return false;
        }
    }

    private static async Task<bool> PingOverAsync(Stream stream, CancellationToken cancellationToken)
    {
        var request = Encoding.ASCII.GetBytes("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        var buffer = new byte[64];
        var read = 0;
        while (read < 12)
        {
            var count = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                break;
            }

            read += count;
        }

        // "HTTP/1.1 200 OK": any 2xx status means an engine (Docker or Podman) is serving the API.
        var statusLine = Encoding.ASCII.GetString(buffer, 0, read);
        return statusLine.Length >= 12
               && statusLine.StartsWith("HTTP/", StringComparison.Ordinal)
               && statusLine[9] == '2';
    }
}
