using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Time.Testing;

namespace Outbox.Tests.Messages;

public sealed partial class OutboxMessageFactoryTests
{
    public sealed record Started(int UserId, string Title);

    public sealed record Unmapped(int X);

    [JsonSerializable(typeof(Started))]
    private sealed partial class StartedJsonContext : JsonSerializerContext;

    private static OutboxMessageFactory Create(Action<OutboxOptions>? configure = null)
    {
        var options = new OutboxOptions().MapEvent<Started>("movie", e => e.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        configure?.Invoke(options);
        return new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
    }

    [Fact]
    public void Creates_a_row_with_mapping_payload_lane_and_time()
    {
        var message = Create().Create(new Started(7, "Heat"));

        Assert.Equal("movie", message.AggregateType);
        Assert.Equal("7", message.AggregateId);
        Assert.Equal(nameof(Started), message.Type);
        Assert.Equal("{\"userId\":7,\"title\":\"Heat\"}", message.Payload);
        Assert.Equal(LaneHash.Compute("7", 64), message.Lane);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), message.CreatedAt);
        Assert.Equal(7, message.Id.Version);
        Assert.Null(message.CommitSequence);
    }

    [Fact]
    public void Source_generated_serializer_context_is_used()
    {
        var factory = Create(o => o.JsonSerializerOptions = new JsonSerializerOptions { TypeInfoResolver = StartedJsonContext.Default });
        Assert.Equal("{\"UserId\":1,\"Title\":\"x\"}", factory.Create(new Started(1, "x")).Payload);
    }

    [Fact]
    public void Unmapped_type_names_the_clr_type()
    {
        var ex = Assert.Throws<UnmappedEventException>(() => Create().Create(new Unmapped(1)));
        Assert.Contains(typeof(Unmapped).FullName!, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Payload_over_the_limit_names_type_and_size()
    {
        var ex = Assert.Throws<PayloadTooLargeException>(() => Create(o => o.MaxPayloadBytes = 100).Create(new Started(1, new string('é', 100))));
        Assert.Equal(typeof(Started), ex.EventType);
        Assert.Equal(100, ex.Limit);
        Assert.True(ex.Size > 200);
        Assert.Contains(ex.Size.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Payload_at_the_limit_is_accepted()
    {
        var factory = Create(o => o.MaxPayloadBytes = "{\"userId\":1,\"title\":\"abc\"}".Length);
        Assert.NotNull(factory.Create(new Started(1, "abc")));
    }

    [Fact]
    public void Empty_aggregate_id_is_rejected_with_the_event_type()
    {
        var options = new OutboxOptions().MapEvent<Started>("movie", _ => "");
        var factory = new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, TimeProvider.System);
        var ex = Assert.Throws<OutboxException>(() => factory.Create(new Started(1, "x")));
        Assert.Contains(typeof(Started).FullName!, ex.Message, StringComparison.Ordinal);
    }
}
