using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.ChaosTests.Model;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Payload limits on the ADO.NET path (<see cref="OutboxWriter"/>), to the byte. The EF Core path is covered by
/// <c>BadInputTests.Oversize_payload_fails_SaveChanges_naming_type_and_size_and_writes_nothing</c>, multi-byte text by
/// <c>OutboxMessageFactoryTests.Payload_over_the_limit_names_type_and_size</c>, a row over the producer's limit by
/// <c>PoisonRecordTests</c> (polling) and <c>CdcRelayFailureTests</c> (CDC), a large record on a consumed topic by
/// <see cref="MalformedRecordTests"/>.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class OversizePayloadTests(BadInputFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task The_ADO_NET_writer_accepts_a_payload_of_exactly_MaxPayloadBytes_and_refuses_one_byte_more_writing_nothing()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var exact = new ChaosEvent(Guid.NewGuid(), "k0001", 1, 1, "é✓" + new string('x', 5000));
        var limit = Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(exact, new OutboxOptions().JsonSerializerOptions));
        var over = exact with { ChaosId = Guid.NewGuid(), Note = exact.Note + "x" };
        var outbox = BadInputFixture.UniqueTopic(out _);
        using var host = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, o =>
        {
            outbox(o);
            o.MaxPayloadBytes = limit;
        }, _ => { });
        var writer = host.Services.GetRequiredService<OutboxWriter>();

        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var error = await Assert.ThrowsAsync<PayloadTooLargeException>(() => writer.EnqueueAsync(connection, transaction, over));
            output.WriteLine(error.Message);
            Assert.Equal(limit + 1, error.Size);
            Assert.Equal(limit, error.Limit);
            Assert.Contains(nameof(ChaosEvent), error.Message, StringComparison.Ordinal);

            // A batch with one oversize event writes none of them; the transaction is still usable.
            await Assert.ThrowsAsync<PayloadTooLargeException>(() => writer.EnqueueBatchAsync(connection, transaction, [exact with { ChaosId = Guid.NewGuid() }, over]));
            await writer.EnqueueAsync(connection, transaction, exact);
            await transaction.CommitAsync();
        }

        await using var command = new NpgsqlCommand("SELECT count(*), max(octet_length(payload::text)) FROM outbox.messages", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(1, reader.GetInt64(0));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"limit {limit} bytes; stored jsonb text {reader.GetInt32(1)} bytes"));
    }
}
