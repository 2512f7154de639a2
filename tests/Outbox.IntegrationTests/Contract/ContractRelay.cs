using Microsoft.Extensions.Hosting;

namespace Outbox.IntegrationTests.Contract;

/// <summary>A relay host started by a <see cref="RelayContractDriver"/>, configured like an application.</summary>
public sealed class ContractRelay(string name, IHost host, Func<long> published)
{
    private long? _final;

    public string Name { get; } = name;

    public IHost Host { get; } = host;

    /// <summary>Events this relay instance has seen acknowledged by Kafka (its own counter; repeats included).</summary>
    /// <remarks>Once the relay is ended, the count it had when it was ended (its host may be gone).</remarks>
    public long Published => _final ?? published();

    /// <summary>Set once the relay was stopped or killed: a relay is started once and ended once.</summary>
    public bool Ended { get; private set; }

    /// <summary>Keeps the count as it is now and marks the relay ended.</summary>
    internal void End()
    {
        _final = published();
        Ended = true;
    }
}
