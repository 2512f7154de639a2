using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Outbox.Kafka;

/// <summary>
/// What librdkafka accepts as <c>bootstrap.servers</c>: comma-separated <c>[protocol://]host[:port]</c>, where the
/// optional protocol is one of librdkafka's security protocols (it refuses any other, such as <c>http://</c>, and drops
/// the broker with only a log line), the host a DNS name, an IPv4 address or an IPv6 address in brackets, and the
/// port 1 to 65535 (librdkafka's default, 9092, when missing; librdkafka reads a non-numeric port as 0). Blanks around
/// entries and empty entries are skipped, as librdkafka does, but at least one broker is needed.
/// </summary>
internal static class BootstrapServerList
{
    private static readonly string[] Protocols = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];

    /// <summary>Returns why the list is not one librdkafka can connect with, or <see langword="null"/> when it is.</summary>
    public static string? Problem(string value)
    {
        var brokers = 0;
        foreach (var raw in value.Split(','))
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            if (EntryProblem(entry) is { } problem)
            {
                return $"'{entry}' {problem}";
            }

            brokers++;
        }

        return brokers == 0 ? "names no broker" : null;
    }

    private static string? EntryProblem(string entry)
    {
        var rest = entry.AsSpan();
        var scheme = entry.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var protocol = entry[..scheme];
            if (!Protocols.Contains(protocol, StringComparer.OrdinalIgnoreCase))
            {
                return $"has the protocol '{protocol}://'; librdkafka accepts only PLAINTEXT://, SSL://, SASL_PLAINTEXT:// or SASL_SSL:// (or none)";
            }

            rest = rest[(scheme + 3)..];
        }

        ReadOnlySpan<char> host;
        ReadOnlySpan<char> port = default;
        if (rest.StartsWith("["))
        {
            var close = rest.IndexOf(']');
            if (close < 0)
            {
                return "has an IPv6 address without its closing ']'";
            }

            host = rest[1..close];
            if (!IPAddress.TryParse(host, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return "has something that is not an IPv6 address in brackets";
            }

            var after = rest[(close + 1)..];
            if (!after.IsEmpty)
            {
                if (after[0] != ':')
                {
                    return "must be host:port";
                }

                port = after[1..];
                if (port.IsEmpty)
                {
                    return "has an empty port";
                }
            }
        }
        else
        {
            var colon = rest.IndexOf(':');
            host = colon < 0 ? rest : rest[..colon];
            if (colon >= 0)
            {
                port = rest[(colon + 1)..];
                if (port.IsEmpty)
                {
                    return "has an empty port";
                }
            }

            if (!IsHostName(host))
            {
                return "is not host:port (a host is a DNS name or an IPv4 address; an IPv6 address goes in brackets, [::1]:9092)";
            }
        }

        if (!port.IsEmpty && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535))
        {
            return $"has the port '{port}'; a port is a number from 1 to 65535";
        }

        return null;
    }

    /// <summary>DNS labels of letters, digits, '-' and '_' separated by single dots (an IPv4 address is one of them).</summary>
    private static bool IsHostName(ReadOnlySpan<char> host)
    {
        if (host.IsEmpty || host.Length > 253 || host[0] == '.')
        {
            return false;
        }

        var previous = '.';
        foreach (var c in host)
        {
            if (c == '.' && previous == '.')
            {
                return false;
            }

            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                return false;
            }

            previous = c;
        }

        return true;
    }
}
