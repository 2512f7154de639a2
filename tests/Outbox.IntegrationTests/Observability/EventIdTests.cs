using System.Reflection;
using Microsoft.Extensions.Logging;
using Outbox.Kafka;
using Outbox.PostgreSql;
using Xunit;

namespace Outbox.IntegrationTests.Observability;

/// <summary>Every message the packages log has its id in <see cref="OutboxEventId"/>, and no two share one.</summary>
public sealed class EventIdTests
{
    private static readonly Assembly[] Packages =
        [typeof(OutboxEventId).Assembly, typeof(PostgreSqlOutboxBuilderExtensions).Assembly, typeof(KafkaOptions).Assembly];

    [Fact]
    public void Every_logged_message_uses_a_declared_event_id_and_every_declared_id_is_logged_exactly_once()
    {
        var declared = typeof(OutboxEventId).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.Equal(declared.Count, declared.Values.Distinct().Count());

        var logged = Packages
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();
        Assert.NotEmpty(logged);

        foreach (var (method, attribute) in logged)
        {
            Assert.True(declared.ContainsValue(attribute!.EventId),
                $"{method.DeclaringType}.{method.Name} logs event id {attribute.EventId}, which OutboxEventId does not declare");
        }

        var ids = logged.Select(x => x.Attribute!.EventId).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(declared.Values.Order(), ids.Order());
    }
}
