using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Outbox.Kafka;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>Bad configuration fails when the host starts, with a message that names the setting.</summary>
public sealed class ConsumerStartupTests
{
    private static async Task<Exception> StartFailsAsync(Action<IServiceCollection> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql("Host=127.0.0.1;Database=unused").UseOutbox(sp));
        configure(builder.Services);
        using var host = builder.Build();
        return await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
    }

    [Fact]
    public async Task Retry_delays_in_the_wrong_order_fail_naming_the_settings()
    {
        var ex = await StartFailsAsync(s => s.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId))
            .UsePostgreSql("Host=127.0.0.1;Database=unused")
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>().Configure(o =>
            {
                o.InitialRetryDelay = TimeSpan.FromSeconds(10);
                o.MaxRetryDelay = TimeSpan.FromSeconds(1);
                o.MaxAttempts = 0;
            })));

        var validation = Assert.IsType<OptionsValidationException>(ex);
        Assert.Contains("InboxConsumerOptions.MaxRetryDelay", validation.Message, StringComparison.Ordinal);
        Assert.Contains("consumer group 'g'", validation.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(InboxConsumerOptions.MaxAttempts), validation.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1024L)]
    [InlineData(2_000_000_000_000L)]
    public async Task A_byte_budget_out_of_range_fails_naming_MaxBufferedBytes(long bytes)
    {
        var ex = await StartFailsAsync(s => s.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId))
            .UsePostgreSql("Host=127.0.0.1;Database=unused")
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>().Configure(o => o.MaxBufferedBytes = bytes)));

        var validation = Assert.IsType<OptionsValidationException>(ex);
        Assert.Contains(nameof(InboxConsumerOptions.MaxBufferedBytes), validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_letter_template_without_the_topic_fails()
    {
        var ex = await StartFailsAsync(s => s.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId))
            .UsePostgreSql("Host=127.0.0.1;Database=unused")
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>().Configure(o => o.DeadLetterTopicTemplate = "dead letters")));
        Assert.Contains("InboxConsumerOptions.DeadLetterTopicTemplate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_consumer_without_an_inbox_store_fails_naming_UsePostgreSql()
    {
        var ex = await StartFailsAsync(s => s.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId))
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>()));
        Assert.IsType<OutboxConfigurationException>(ex);
        Assert.Contains("UsePostgreSql", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribing_an_unmapped_event_fails_naming_it()
    {
        var ex = await StartFailsAsync(s => s.AddOutbox()
            .UsePostgreSql("Host=127.0.0.1;Database=unused")
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>()));
        Assert.IsType<OutboxConfigurationException>(ex);
        Assert.Contains(typeof(MovieStarted).FullName!, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_group_on_another_context_type_is_refused()
    {
        var outbox = new ServiceCollection().AddOutbox();
        outbox.AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>());
        outbox.AddConsumer<InboxTestDb>("g", c => c.Subscribe<MovieStarted, AuditHandler>());
        var ex = Assert.Throws<OutboxConfigurationException>(() => outbox.AddConsumer<OtherDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>()));
        Assert.Contains(nameof(InboxTestDb), ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, outbox.Services.Count(d => d.ServiceType == typeof(IHostedService)));
    }

    [Fact]
    public async Task A_consumer_on_an_unregistered_context_fails_naming_AddDbContext()
    {
        var ex = await StartFailsAsync(s => s.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId))
            .UsePostgreSql("Host=127.0.0.1;Database=unused")
            .UseKafka(k => k.BootstrapServers = "127.0.0.1:1")
            .AddConsumer<OtherDb>("g", c => c.Subscribe<MovieStarted, RecordingHandler>()));
        Assert.IsType<OutboxConfigurationException>(ex);
        Assert.Contains("AddDbContext<OtherDb>", ex.Message, StringComparison.Ordinal);
    }

    private sealed class OtherDb(DbContextOptions<OtherDb> options) : DbContext(options);
}
