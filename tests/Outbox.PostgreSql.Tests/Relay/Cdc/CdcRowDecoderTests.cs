using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

public sealed class CdcRowDecoderTests
{
    [Fact]
    public void Columns_are_matched_by_name_whatever_their_order_and_extra_columns_are_skipped()
    {
        var map = CdcRowDecoder.MapColumns(
            ["tenant", "payload", "id", "type", "aggregateid", "aggregatetype", "commit_seq", "traceparent", "created_at", "lane", "tracestate"],
            "outbox.messages");

        Assert.Equal(
            [
                CdcRowDecoder.Field.Skip, CdcRowDecoder.Field.Payload, CdcRowDecoder.Field.Id, CdcRowDecoder.Field.Type,
                CdcRowDecoder.Field.AggregateId, CdcRowDecoder.Field.AggregateType, CdcRowDecoder.Field.Skip, CdcRowDecoder.Field.TraceParent,
                CdcRowDecoder.Field.CreatedAt, CdcRowDecoder.Field.Lane, CdcRowDecoder.Field.TraceState,
            ],
            map);
    }

    [Fact]
    public void A_table_without_the_record_columns_is_refused_with_their_names()
    {
        var error = Assert.Throws<OutboxException>(() => CdcRowDecoder.MapColumns(["id", "aggregateid", "body"], "app.events"));
        Assert.Contains("app.events", error.Message, StringComparison.Ordinal);
        Assert.Contains("AggregateType", error.Message, StringComparison.Ordinal);
        Assert.Contains("Payload", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("AggregateId", error.Message, StringComparison.Ordinal);
    }
}
