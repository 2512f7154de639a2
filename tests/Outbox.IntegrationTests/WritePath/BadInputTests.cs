using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

public sealed class BadInputTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    private static readonly System.Text.Json.JsonSerializerOptions WebJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Unmapped_event_type_fails_SaveChanges_naming_the_type_and_writes_nothing()
    {
        await using var db = fixture.NewContext();
        var account = new Account { Id = Guid.NewGuid(), Name = "unmapped" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        account.Raise(new NotMapped(1));
        db.Accounts.Add(account);

        var ex = await Assert.ThrowsAsync<UnmappedEventException>(() => db.SaveChangesAsync());

        Assert.Contains(typeof(NotMapped).FullName!, ex.Message, StringComparison.Ordinal);
        Assert.Equal(typeof(NotMapped), ex.EventType);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM accounts"));
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
        Assert.Equal(2, account.DomainEvents.Count);
    }

    [Fact]
    public async Task Oversize_payload_fails_SaveChanges_naming_type_and_size_and_writes_nothing()
    {
        await using var services = ShopFixture.BuildServices(fixture.ConnectionString, configureOutbox: o => o.MaxPayloadBytes = 10_000);
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
        db.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "big" });
        db.Outbox().Add(new BigEvent("k", new string('x', 20_000)));

        var ex = await Assert.ThrowsAsync<PayloadTooLargeException>(() => db.SaveChangesAsync());

        Assert.Contains(typeof(BigEvent).FullName!, ex.Message, StringComparison.Ordinal);
        Assert.Contains("10000", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Size > 20_000);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM accounts"));
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
    }

    [Fact]
    public void Duplicate_type_names_fail_at_startup()
    {
        using var services = ShopFixture.BuildServices(
            fixture.ConnectionString,
            configureOutbox: o => o.MapEvent<NotMapped>("other", e => e.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), typeName: nameof(AccountOpened)));

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OutboxOptions>>().Value);
        Assert.Contains("'AccountOpened' is mapped twice", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x\"; DROP TABLE y; --")]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("a b")]
    public void Hostile_or_invalid_identifiers_fail_at_startup_naming_the_option(string schema)
    {
        using var services = ShopFixture.BuildServices(fixture.ConnectionString, configureOutbox: o => o.Schema = schema);

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OutboxOptions>>().Value);
        Assert.Contains("OutboxOptions.Schema", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Context_whose_model_lost_the_outbox_entity_gets_a_clear_error()
    {
        // UseOutbox adds the entity through EF's convention plugin hook; only the application's own model configuration can
        // take it out again (here: Ignore<OutboxMessage>() in OnModelCreating).
        var builder = new DbContextOptionsBuilder<OutboxIgnoringDb>().UseNpgsql(fixture.ConnectionString);
        builder.UseOutbox(fixture.Services);
        await using var db = new OutboxIgnoringDb(builder.Options);
        db.Outbox().Add(new AccountOpened(Guid.NewGuid(), "x"));

        var ex = await Assert.ThrowsAsync<OutboxException>(() => db.SaveChangesAsync());
        Assert.Contains("ApplyOutbox", ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(OutboxIgnoringDb), ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
    }

    [Fact]
    public async Task A_model_customizer_replaced_by_the_application_keeps_the_outbox_entity_and_the_event_is_written()
    {
        // Before, UseOutbox replaced EF's IModelCustomizer, and an application's own replacement silently dropped the entity.
        var builder = new DbContextOptionsBuilder<ShopDb>().UseNpgsql(fixture.ConnectionString);
        builder.UseOutbox(fixture.Services);
        builder.ReplaceService<Microsoft.EntityFrameworkCore.Infrastructure.IModelCustomizer, Microsoft.EntityFrameworkCore.Infrastructure.RelationalModelCustomizer>();
        await using var db = new ShopDb(builder.Options);
        var id = Guid.NewGuid();
        db.Outbox().Add(new AccountOpened(id, "customized"));

        await db.SaveChangesAsync();

        Assert.NotNull(db.Model.FindEntityType(typeof(OutboxMessage)));
        Assert.Equal(1, await fixture.ScalarAsync($"SELECT count(*) FROM outbox.messages WHERE aggregateid = '{id}'"));
    }

    private sealed class OutboxIgnoringDb(DbContextOptions<OutboxIgnoringDb> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Ignore<OutboxMessage>();
    }

    [Fact]
    public async Task Outbox_of_a_context_without_UseOutbox_is_a_clear_error()
    {
        await using var db = new ShopDb(new DbContextOptionsBuilder<ShopDb>().UseNpgsql(fixture.ConnectionString).Options);

        var ex = Assert.Throws<OutboxException>(() => db.Outbox());
        Assert.Contains("UseOutbox", ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ShopDb), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adding_an_unmapped_event_to_the_outbox_fails_at_once_naming_the_type()
    {
        await using var db = fixture.NewContext();

        var ex = Assert.Throws<UnmappedEventException>(() => db.Outbox().Add(new NotMapped(7)));

        Assert.Contains(typeof(NotMapped).FullName!, ex.Message, StringComparison.Ordinal);
        Assert.Empty(db.Outbox().Pending);
    }

    [Theory]
    [InlineData("Outbox().Add", "payload")]
    [InlineData("IHasDomainEvents", "payload")]
    [InlineData("EnqueueAsync", "payload")]
    [InlineData("EnqueueBatchAsync", "payload")]
    [InlineData("Outbox().Add", "aggregate id")]
    [InlineData("IHasDomainEvents", "aggregate id")]
    [InlineData("EnqueueAsync", "aggregate id")]
    [InlineData("EnqueueBatchAsync", "aggregate id")]
    public async Task A_lone_surrogate_is_refused_on_every_write_path_and_nothing_is_written(string path, string where)
    {
        // Serialized, "\uD800" became U+FFFD: the published event differed from the one written, without a signal.
        var bad = where == "payload" ? new BigEvent("key", "text \uD800 more") : new BigEvent("key\uDC00", "text");
        var good = new BigEvent("key", "fine \uD83D\uDE00");

        var ex = await Assert.ThrowsAsync<OutboxException>(() => WriteAsync(path, good, bad));

        Assert.Contains("not valid UTF-16", ex.Message, StringComparison.Ordinal);
        Assert.Contains(where == "payload" ? typeof(BigEvent).FullName! : "aggregate id", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM accounts"));
    }

    [Fact]
    public async Task Valid_surrogate_pairs_and_a_real_replacement_character_are_written_unchanged()
    {
        var text = "emoji \uD83D\uDE00 and a real \uFFFD";
        await WriteAsync("EnqueueAsync", new BigEvent("k\uD83D\uDE00", text));

        var row = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal("k\uD83D\uDE00", row.AggregateId);
        Assert.Equal(text, System.Text.Json.JsonSerializer.Deserialize<BigEvent>(row.Payload, WebJson)!.Blob);
    }

    [Theory]
    [InlineData("aggregate id", "22021")]
    [InlineData("payload", "22P05")]
    public async Task A_NUL_character_is_refused_by_PostgreSQL_and_nothing_is_written(string where, string sqlState)
    {
        var evt = where == "payload" ? new BigEvent("key", "a\0b") : new BigEvent("key\0", "text");

        var ex = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => WriteAsync("EnqueueAsync", evt));

        Assert.Equal(sqlState, ex.SqlState);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
    }

    private async Task WriteAsync(string path, params BigEvent[] events)
    {
        switch (path)
        {
            case "Outbox().Add":
            {
                await using var db = fixture.NewContext();
                db.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "a" });
                foreach (var e in events)
                {
                    db.Outbox().Add(e);
                }

                await db.SaveChangesAsync();
                break;
            }

            case "IHasDomainEvents":
            {
                await using var db = fixture.NewContext();
                var account = new Account { Id = Guid.NewGuid(), Name = "a" };
                foreach (var e in events)
                {
                    account.Raise(e);
                }

                db.Accounts.Add(account);
                await db.SaveChangesAsync();
                break;
            }

            case "EnqueueAsync":
            {
                var writer = fixture.Services.GetRequiredService<OutboxWriter>();
                await using var connection = await fixture.DataSource.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                foreach (var e in events)
                {
                    await writer.EnqueueAsync(connection, tx, e);
                }

                await tx.CommitAsync();
                break;
            }

            default:
            {
                var writer = fixture.Services.GetRequiredService<OutboxWriter>();
                await using var connection = await fixture.DataSource.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                await writer.EnqueueBatchAsync(connection, tx, events);
                await tx.CommitAsync();
                break;
            }
        }
    }
}
