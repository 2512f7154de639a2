using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Inbox;

public sealed class InboxRoutesTests
{
    public sealed record Started(string UserId, int Sequence);

    public sealed record Rated(string UserId, int Stars);

    public sealed record Billed(string AccountId);

    public sealed class StartedHandler : IInboxHandler<Started>
    {
        public Task HandleAsync(Started evt, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public sealed class OtherStartedHandler : IInboxHandler<Started>
    {
        public Task HandleAsync(Started evt, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public sealed class BilledHandler : IInboxHandler<Billed>
    {
        public Task HandleAsync(Billed evt, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static OutboxOptions Options()
    {
        var options = new OutboxOptions { TopicTemplate = "app.{aggregatetype}" };
        options.MapEvent<Started>("movie", e => e.UserId)
               .MapEvent<Rated>("movie", e => e.UserId)
               .MapEvent<Billed>("billing", e => e.AccountId, typeName: "billing.billed");
        return options;
    }

    /// <summary>The registry <c>AddOutbox()</c> makes of <paramref name="options"/> (its constructor is not public).</summary>
    internal static OutboxEventRegistry Registry(OutboxOptions options)
    {
        var services = new ServiceCollection();
        services.AddOutbox();
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<OutboxEventRegistry>();
    }

    private static InboxRoutes Routes(params InboxSubscription[] subscriptions)
    {
        var options = Options();
        return new InboxRoutes("g", subscriptions, Registry(options), options);
    }

    private static InboxRecord Record(string? type, string? value, string? id = "id-1") => new()
    {
        Topic = "app.movie",
        Partition = 2,
        Offset = 41,
        Id = id,
        Type = type,
        Key = "u1"u8.ToArray(),
        Value = value is null ? null : Encoding.UTF8.GetBytes(value),
        Headers = [new("id", id is null ? null : Encoding.UTF8.GetBytes(id)), new("traceparent", "00-abc-def-01"u8.ToArray()), new("traceparent", "00-last-01"u8.ToArray())],
    };

    [Fact]
    public void Topics_come_from_the_subscribed_events_aggregate_types_once_each()
    {
        var routes = Routes(
            InboxSubscription.Create<Started, StartedHandler>(true),
            InboxSubscription.Create<Started, OtherStartedHandler>(true),
            InboxSubscription.Create<Billed, BilledHandler>(true));
        Assert.Equal(["app.movie", "app.billing"], routes.Topics);
    }

    [Fact]
    public void A_subscribed_event_is_deserialized_with_its_handlers_in_subscription_order()
    {
        var routes = Routes(InboxSubscription.Create<Started, StartedHandler>(true), InboxSubscription.Create<Started, OtherStartedHandler>(false));
        var item = routes.Read(Record("Started", """{"userId":"u1","sequence":7}"""));

        Assert.Equal(InboxRecordKind.Handle, item.Kind);
        Assert.Equal(new Started("u1", 7), item.Event);
        Assert.Equal([typeof(StartedHandler), typeof(OtherStartedHandler)], item.Handlers.Select(h => h.HandlerType));
        Assert.False(item.AllowsBatching);
    }

    [Fact]
    public void A_mapped_event_without_a_handler_in_the_group_is_skipped()
    {
        var item = Routes(InboxSubscription.Create<Started, StartedHandler>(true)).Read(Record("Rated", """{"userId":"u1","stars":3}"""));
        Assert.Equal(InboxRecordKind.Skip, item.Kind);
        Assert.True(item.AllowsBatching);
    }

    [Theory]
    [InlineData("MovieDeleted", """{"userId":"u1"}""", "id-1", "unknown-event-type", "'MovieDeleted' is not mapped")]
    [InlineData(null, """{"userId":"u1"}""", "id-1", "unknown-event-type", "no 'type' header")]
    [InlineData("Started", """{"userId":"u1","sequence":""", "id-1", "malformed-payload", "is not a valid JSON")]
    [InlineData("Started", """{"userId":"u1","sequence":"seven"}""", "id-1", "malformed-payload", "is not a valid JSON")]
    [InlineData("Started", "null", "id-1", "malformed-payload", "JSON null")]
    [InlineData("Started", null, "id-1", "malformed-payload", "has no value")]
    [InlineData("Started", """{"userId":"u1","sequence":1}""", null, "missing-id", "no 'id' header")]
    public void Records_that_cannot_be_handled_are_dead_letters_with_a_clear_reason(string? type, string? value, string? id, string reason, string message)
    {
        var item = Routes(InboxSubscription.Create<Started, StartedHandler>(true)).Read(Record(type, value, id));

        Assert.Equal(InboxRecordKind.DeadLetter, item.Kind);
        Assert.Equal(reason, item.DeadLetter!.Reason);
        Assert.Contains(message, item.DeadLetter.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, item.DeadLetter.Attempts);
        Assert.False(item.AllowsBatching);
    }

    [Fact]
    public void Subscribing_an_unmapped_event_fails_naming_it()
    {
        var options = new OutboxOptions();
        var ex = Assert.Throws<OutboxConfigurationException>(() =>
            new InboxRoutes("g", [InboxSubscription.Create<Started, StartedHandler>(true)], Registry(options), options));
        Assert.Contains(typeof(Started).FullName!, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'g'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_group_without_subscriptions_fails()
    {
        var options = Options();
        var ex = Assert.Throws<OutboxConfigurationException>(() => new InboxRoutes("g", [], Registry(options), options));
        Assert.Contains("Subscribe", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_context_carries_the_records_coordinates_and_decoded_headers()
    {
        var item = Routes(InboxSubscription.Create<Started, StartedHandler>(true)).Read(Record("Started", """{"userId":"u1","sequence":1}"""));
        var context = item.CreateContext("g", 3);

        Assert.Equal(("id-1", "u1", "Started", "app.movie", 2, 41L, "g", 3),
            (context.Id, context.Key, context.Type, context.Topic, context.Partition, context.Offset, context.ConsumerGroup, context.Attempt));
        Assert.Equal("00-last-01", context.Headers["traceparent"]);
    }

    [Fact]
    public void With_tenant_routing_every_item_carries_the_last_value_of_the_tenant_header_and_none_without_it()
    {
        var options = Options();
        var routes = new InboxRoutes("g", [InboxSubscription.Create<Started, StartedHandler>(true)], Registry(options), options, "outbox-database");
        static InboxRecord WithHeaders(string? type, params KeyValuePair<string, byte[]?>[] headers) => new()
        {
            Topic = "app.movie",
            Partition = 2,
            Offset = 41,
            Id = "id-1",
            Type = type,
            Key = "u1"u8.ToArray(),
            Value = "{\"userId\":\"u1\",\"sequence\":1}"u8.ToArray(),
            Headers = headers,
        };

        static KeyValuePair<string, byte[]?> Header(byte[] value) => new("outbox-database", value);

        var record = WithHeaders("Started", Header("t1"u8.ToArray()), Header("t2"u8.ToArray()));
        Assert.Equal("t2", routes.Read(record).Tenant);
        Assert.Equal("t2", routes.Read(WithHeaders("nope", Header("t2"u8.ToArray()))).Tenant);
        Assert.Null(routes.Read(WithHeaders("Started")).Tenant);
        Assert.Null(routes.Read(WithHeaders("Started", Header([]))).Tenant);

        // Without routing the header means nothing.
        Assert.Null(Routes(InboxSubscription.Create<Started, StartedHandler>(true)).Read(record).Tenant);
    }
}
