using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Outbox.IntegrationTests.Inbox;

namespace Outbox.IntegrationTests.Observability;

/// <summary>The host the observability tests watch: the outbox on <c>cs</c>, and with <c>kafka</c> a polling relay.</summary>
internal static class ObservedHost
{
    public static IHost Build(string cs, string prefix, TimeProvider time, string? kafka, string? instanceId = null, Action<OutboxHealthOptions>? health = null, bool withHealthChecks = false)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(time);
        var outbox = builder.Services.AddOutbox(o =>
        {
            o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
            o.MapEvent<MovieStarted>("movie", e => e.UserId);
        }).UsePostgreSql(cs);
        if (kafka is not null)
        {
            outbox.UseKafka(k => k.BootstrapServers = kafka).AddPollingRelay(r =>
            {
                r.PollInterval = TimeSpan.FromMilliseconds(200);
                r.InstanceId = instanceId;
            });
        }

        if (withHealthChecks)
        {
            builder.Services.AddHealthChecks().AddOutboxHealthChecks(health);
        }

        return builder.Build();
    }
}
