using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using MovieWatch.Data;
using MovieWatch.Events;
using MovieWatch.Handlers;
using Outbox;
using Outbox.PostgreSql;

namespace MovieWatch;

/// <summary>Builds the MovieWatch web app: data, the outbox with the chosen relay, two inbox consumers, the API and the page.</summary>
public static class MovieWatchApp
{
    public static WebApplication Build(SampleSettings settings, SampleInfrastructure infrastructure, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = settings.HostArgs, ContentRootPath = AppContext.BaseDirectory });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(settings.Demo ? "http://127.0.0.1:0" : "http://127.0.0.1:5080");
        }

        // Logs go to stderr: stdout carries only what scripts read (the URL, the demo's summary line).
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        configure?.Invoke(builder);

        var cs = infrastructure.ConnectionString;
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<RecentEvents>();
        services.AddSingleton(new RelayMode(settings.Relay));
        services.AddScoped<WatchService>();
        services.AddDbContext<MovieWatchDb>((sp, db) => db.UseNpgsql(cs).UseOutbox(sp));
        services.AddProblemDetails();

        var outbox = services
            .AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .UsePostgreSql(cs)
            .UseKafka(k =>
            {
                k.BootstrapServers = infrastructure.BootstrapServers;
                if (infrastructure.EmbeddedKafka)
                {
                    // librdkafka's mock cluster answers a fetch only when fetch.wait.max.ms (500 ms by default) has passed,
                    // even when records arrived meanwhile; a real broker answers as soon as there are records. So that the
                    // sample's latency is not the mock's, its consumers wait 10 ms. Leave the default with a real broker.
                    k.Consumer.FetchWaitMaxMs = 10;
                }
            });
        _ = settings.Relay switch
        {
            "polling" => outbox.AddPollingRelay(),
            "cdc" => outbox.AddCdcRelay(),
            _ => outbox.UseDebezium(),
        };
        if (settings.Relay != "debezium")
        {
            // Records already waiting in a partition share one inbox transaction (up to 100): under load a consumer then
            // commits once per batch instead of once per record; an idle consumer never waits to fill a batch.
            outbox.AddConsumer<MovieWatchDb>(StreamingHandler.ConsumerGroup, c => c.Subscribe<MovieStarted, StreamingHandler>().Configure(o => o.MaxBatchSize = 100));
            outbox.AddConsumer<MovieWatchDb>(RecommendationsHandler.ConsumerGroup, c => c.Subscribe<MovieStarted, RecommendationsHandler>().Configure(o => o.MaxBatchSize = 100));
        }

        services.AddHealthChecks().AddOutboxHealthChecks();

        var app = builder.Build();
        app.MapHealthChecks("/health");
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        MapApi(app);
        return app;
    }

    /// <summary>Creates the app's tables, the outbox schema and the seed data. Runs before the host starts the relay and consumers.</summary>
    public static async Task PrepareDatabaseAsync(WebApplication app, int users, StartupProgress? progress = null)
    {
        progress ??= StartupProgress.None;
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MovieWatchDb>();
        progress.Step("Creating the app's tables (EF Core) and the outbox schema...");
        await db.Database.EnsureCreatedAsync();
        var options = scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<OutboxOptions>>().Value;
        await using (var dataSource = Npgsql.NpgsqlDataSource.Create(db.Database.GetConnectionString()!))
        {
            await OutboxSchema.EnsureCreatedAsync(dataSource, options);
        }

        progress.Step($"Seeding movies and {users} users...");
        await Seed.EnsureSeededAsync(db, users);
    }

    /// <summary>The Kafka Connect configuration of Debezium's PostgreSQL connector for this app's outbox.</summary>
    public static string DebeziumConfig(WebApplication app) =>
        DebeziumConnectorConfig.Create(
            app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OutboxOptions>>().Value,
            app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DebeziumOptions>>().Value);

    private static void MapApi(WebApplication app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/movies", async (MovieWatchDb db) =>
            await db.Movies.AsNoTracking().OrderBy(m => m.Genre).ThenBy(m => m.Title).ToListAsync());
        api.MapGet("/users", async (MovieWatchDb db) =>
            await db.Users.AsNoTracking().OrderBy(u => u.Id).ToListAsync());

        api.MapPost("/watch", async (WatchRequest? request, WatchService watches, CancellationToken ct) =>
        {
            if (request is null)
            {
                return Results.Problem("The body must be JSON: { \"userId\": 1, \"movieId\": 2 }.", statusCode: StatusCodes.Status400BadRequest);
            }

            var result = await watches.WatchAsync(request.UserId, request.MovieId, ct);
            return result.Error switch
            {
                "user" => Results.Problem($"User {request.UserId} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Unknown user"),
                "movie" => Results.Problem($"Movie {request.MovieId} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Unknown movie"),
                _ => Results.Ok(new { watchId = result.Watch!.Id, result.Watch.StartedAt }),
            };
        });

        api.MapGet("/users/{id:int}/recommendations", async (int id, MovieWatchDb db, CancellationToken ct) =>
            await Recommendations.ForUserAsync(db, id, ct) is { } view
                ? Results.Ok(view)
                : Results.Problem($"User {id} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Unknown user"));

        api.MapGet("/status", async (MovieWatchDb db, RecentEvents recent, RelayMode relay, TimeProvider time, CancellationToken ct) =>
        {
            var pending = db.Set<OutboxMessage>().AsNoTracking().Where(m => m.PublishedAt == null);
            var count = await pending.CountAsync(ct);
            var oldest = count == 0 ? (DateTimeOffset?)null : await pending.MinAsync(m => (DateTimeOffset?)m.CreatedAt, ct);
            var watches = await db.WatchHistory.CountAsync(ct);
            var streamed = await db.StreamingSessions.CountAsync(ct);
            var recommended = await db.RecommendationInputs.CountAsync(ct);
            return new
            {
                relay = relay.Name,
                outboxPending = count,
                oldestPendingMs = oldest is null ? (long?)null : (long)(time.GetUtcNow() - oldest.Value).TotalMilliseconds,
                watches,
                consumerLag = new { streaming = watches - streamed, recommendations = watches - recommended },
                recentEvents = recent.Snapshot(),
            };
        });
    }
}

public sealed record WatchRequest(int UserId, int MovieId);

public sealed record RelayMode(string Name);
