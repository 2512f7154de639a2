using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Outbox.Testing;

namespace MovieWatch.Tests;

/// <summary>The sample on a database and an embedded Kafka of its own, as a test runs it.</summary>
public sealed class SampleHost : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer>> Postgres = new(() => PostgresServer.StartAsync());

    private SampleHost(KafkaServer kafka, SampleInfrastructure infrastructure)
    {
        Kafka = kafka;
        Infrastructure = infrastructure;
    }

    public KafkaServer Kafka { get; }

    public SampleInfrastructure Infrastructure { get; }

    public WebApplication? App { get; private set; }

    public string Url { get; private set; } = "";

    public static async Task<SampleHost> CreateAsync()
    {
        var server = await Postgres.Value;
        var database = await server.CreateDatabaseAsync("moviewatch");
        var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        await kafka.CreateTopicAsync(SampleInfrastructure.Topic, 6);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:MovieWatch"] = database,
            ["Kafka:BootstrapServers"] = kafka.BootstrapServers,
        }).Build();
        var infrastructure = await SampleInfrastructure.StartAsync(configuration, TextWriter.Null);
        return new SampleHost(kafka, infrastructure);
    }

    public async Task<string> StartWebAsync(string relay = "polling")
    {
        var settings = new SampleSettings(false, relay, 4, 0, 1, ["--urls", "http://127.0.0.1:0"]);
        App = MovieWatchApp.Build(settings, Infrastructure);
        await MovieWatchApp.PrepareDatabaseAsync(App, settings.Users);
        await App.StartAsync();
        Url = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return Url;
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        await Infrastructure.DisposeAsync();
        await Kafka.DisposeAsync();
    }
}
