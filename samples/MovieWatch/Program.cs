using MovieWatch;

SampleSettings settings;
try
{
    settings = SampleSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine("usage: dotnet run --project samples/MovieWatch [-- demo] [--relay polling|cdc|debezium] [--users N] [--watches N] [--concurrency N]");
    return 2;
}

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(settings.HostArgs)
    .Build();

var progress = new StartupProgress(Console.Error);
progress.Step($"MovieWatch {(settings.Demo ? "demo" : "app")} starting (relay: {settings.Relay}).");
await using var infrastructure = await SampleInfrastructure.StartAsync(configuration, Console.Error);
progress.Step(infrastructure.Description);

if (settings.Demo)
{
    return await Demo.RunAsync(settings, infrastructure, Console.Out, Console.Error, progress);
}

await using var app = MovieWatchApp.Build(settings, infrastructure);
await MovieWatchApp.PrepareDatabaseAsync(app, settings.Users, progress);
if (settings.Relay == "debezium")
{
    Console.WriteLine("Relay mode debezium: this process only writes. Kafka Connect configuration for Debezium:");
    Console.WriteLine(MovieWatchApp.DebeziumConfig(app));
}

progress.Step("Starting the web app, the relay and the two consumers...");
await app.StartAsync();
foreach (var url in app.Urls)
{
    Console.WriteLine($"MovieWatch is running at {url} (relay: {settings.Relay}). Press Ctrl+C to stop.");
}

await app.WaitForShutdownAsync();
return 0;
