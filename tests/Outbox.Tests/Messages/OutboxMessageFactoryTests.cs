using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Time.Testing;

namespace Outbox.Tests.Messages;

public sealed partial class OutboxMessageFactoryTests
{
    public sealed record Started(int UserId, string Title);

    public sealed record Unmapped(int X);

    private static readonly JsonSerializerOptions WebJson = new(JsonSerializerDefaults.Web);

    public sealed record Rich(string Key, string Title, char Initial, Dictionary<string, string> Tags, string[] Lines);

    [JsonSerializable(typeof(Rich))]
    private sealed partial class RichJsonContext : JsonSerializerContext;

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

    private static OutboxMessageFactory CreateRich(Action<OutboxOptions>? configure = null)
    {
        var options = new OutboxOptions().MapEvent<Rich>("rich", e => e.Key);
        configure?.Invoke(options);
        return new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, TimeProvider.System);
    }

    private static Rich RichWith(string key = "k", string title = "t", char initial = 'a', string tagKey = "t", string tagValue = "v", string line = "l") =>
        new(key, title, initial, new Dictionary<string, string> { [tagKey] = tagValue }, [line]);

    public static TheoryData<string> LoneSurrogates() => new()
    {
        "property",
        "char",
        "dictionary key",
        "dictionary value",
        "array element",
        "low surrogate alone",
        "high surrogate at the end",
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public void A_lone_surrogate_anywhere_in_the_event_is_refused_naming_the_type(string where)
    {
        var evt = where switch
        {
            "property" => RichWith(title: "x\uD800y"),
            "char" => RichWith(initial: '\uDC00'),
            "dictionary key" => RichWith(tagKey: "\uD83D"),
            "dictionary value" => RichWith(tagValue: "a\uDE00"),
            "array element" => RichWith(line: "\uD800\uD800"),
            "low surrogate alone" => RichWith(line: "\uDFFFx"),
            _ => RichWith(line: "text\uDBFF"),
        };

        foreach (var factory in new[]
                 {
                     CreateRich(),
                     CreateRich(o => o.JsonSerializerOptions = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
                     CreateRich(o => o.JsonSerializerOptions = new JsonSerializerOptions { TypeInfoResolver = RichJsonContext.Default }),
                 })
        {
            var ex = Assert.Throws<OutboxException>(() => factory.Create(evt));
            Assert.Contains(typeof(Rich).FullName!, ex.Message, StringComparison.Ordinal);
            Assert.Contains("not valid UTF-16", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Valid_surrogate_pairs_and_a_real_replacement_character_are_kept()
    {
        foreach (var factory in new[]
                 {
                     CreateRich(),
                     CreateRich(o => o.JsonSerializerOptions = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
                 })
        {
            var evt = RichWith(line: "emoji \uD83D\uDE00, replacement \uFFFD, escaped text \\uFFFD", tagKey: "\uFFFD");
            var message = factory.Create(evt);

            var back = JsonSerializer.Deserialize<Rich>(message.Payload, WebJson)!;
            Assert.Equal(evt.Lines[0], back.Lines[0]);
            Assert.Equal("\uFFFD", back.Tags.Keys.Single());
        }
    }

    [Fact]
    public void An_aggregate_id_that_is_not_valid_UTF16_is_refused()
    {
        var ex = Assert.Throws<OutboxException>(() => CreateRich().Create(RichWith(key: "key\uD800")));

        Assert.Contains("aggregate id", ex.Message, StringComparison.Ordinal);
        Assert.Contains("U+D800", ex.Message, StringComparison.Ordinal);
    }

    // Built in code: attribute arguments are stored as UTF-8, which would replace the lone surrogates.
    public static TheoryData<string, int> Utf16Cases() => new()
    {
        { "", -1 },
        { "plain ascii", -1 },
        { "\uD83D\uDE00\uD83D\uDE00", -1 },
        { "a\uD800", 1 },
        { "\uDC00a", 0 },
        { "\uD83D\uDE00\uDE00", 2 },
        { "\uD800\uD83D\uDE00", 0 },
        { new string('x', 1000) + "\uD800", 1000 },
    };

    [Theory]
    [MemberData(nameof(Utf16Cases), DisableDiscoveryEnumeration = true)] // not serialized at discovery (which would replace the surrogates too)
    public void Utf16Text_finds_the_first_lone_surrogate(string text, int expected) =>
        Assert.Equal(expected, Utf16Text.IndexOfInvalid(text));
}
