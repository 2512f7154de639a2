using Microsoft.Extensions.DependencyInjection;

namespace Outbox;

/// <summary>Configures the outbox after <c>AddOutbox()</c>; the store, transport and relay packages extend it.</summary>
public interface IOutboxBuilder
{
    /// <summary>Gets the application's service collection.</summary>
    IServiceCollection Services { get; }
}
