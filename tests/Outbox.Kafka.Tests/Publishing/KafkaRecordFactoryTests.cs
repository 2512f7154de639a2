using System.Text;
using Outbox.Kafka.Publishing;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Publishing;

public sealed class KafkaRecordFactoryTests
{
    [Fact]
    public void Key_value_and_headers_follow_the_design()
    {
        var id = Guid.Parse("01939e0e-58a4-7c6f-9d3a-3b8c2f5e4a10");
        var message = KafkaRecordFactory.CreateMessage(new OutboxRecord
        {
            Id = id,
            AggregateType = "movie",
            AggregateId = "user-ü",
            Type = "MovieStarted",
            Payload = "{\"title\":\"Ça\"}",
        });

        Assert.Equal(Encoding.UTF8.GetBytes("user-ü"), message.Key);
        Assert.Equal(Encoding.UTF8.GetBytes("{\"title\":\"Ça\"}"), message.Value);
        Assert.Equal(["id", "type"], message.Headers.Select(h => h.Key));
        Assert.Equal("01939e0e-58a4-7c6f-9d3a-3b8c2f5e4a10", Encoding.UTF8.GetString(message.Headers.GetLastBytes("id")));
        Assert.Equal("MovieStarted", Encoding.UTF8.GetString(message.Headers.GetLastBytes("type")));
    }

    [Fact]
    public void Trace_headers_are_present_only_when_the_row_has_them()
    {
        var message = KafkaRecordFactory.CreateMessage(new OutboxRecord
        {
            Id = Guid.NewGuid(),
            AggregateType = "movie",
            AggregateId = "1",
            Type = "T",
            Payload = "{}",
            TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceState = "",
        });

        Assert.Equal(["id", "type", "traceparent"], message.Headers.Select(h => h.Key));
    }

    [Fact]
    public void The_topic_comes_from_the_template()
    {
        var factory = new KafkaRecordFactory(new OutboxOptions { TopicTemplate = "app.{aggregatetype}.events" });
        Assert.Equal("app.movie.events", factory.GetTopic(new OutboxRecord { AggregateType = "movie" }));
        Assert.Equal("app.user.events", factory.GetTopic(new OutboxRecord { AggregateType = "user" }));
    }

    [Fact]
    public void A_record_from_one_of_many_databases_names_it_in_the_outbox_database_header()
    {
        var message = KafkaRecordFactory.CreateMessage(new OutboxRecord
        {
            Id = Guid.NewGuid(),
            AggregateType = "movie",
            AggregateId = "1",
            Type = "T",
            Payload = "{}",
            Database = "tenant-7",
        });

        Assert.Equal(["id", "type", "outbox-database"], message.Headers.Select(h => h.Key));
        Assert.Equal("tenant-7", Encoding.UTF8.GetString(message.Headers.GetLastBytes("outbox-database")));
    }
}
