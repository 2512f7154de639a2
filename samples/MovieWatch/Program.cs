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

await using var infrastructure = await SampleInfrastructure.StartAsync(configuration, Console.Error);
Console.Error.WriteLine(infrastructure.Description);

if (settings.Demo)
{
    return await Demo.RunAsync(settings, infrastructure, Console.Out, Console.Error);
}

await using var app = MovieWatchApp.Build(settings, infrastructure);
await MovieWatchApp.PrepareDatabaseAsync(app, settings.Users);
if (settings.Relay == "debezium")
{
    Console.WriteLine("Relay mode debezium: this process only writes. Kafka Connect configuration for Debezium:");
    Console.WriteLine(MovieWatchApp.DebeziumConfig(app));
}

await app.StartAsync();
foreach (var url in app.Urls)
{
    Console.WriteLine($"MovieWatch is running at {url} (relay: {settings.Relay}). Press Ctrl+C to stop.");
}

await app.WaitForShutdownAsync();
return 0;
