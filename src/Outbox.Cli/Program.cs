using Outbox.Cli;

return await OutboxCli.RunAsync(args, Console.Out, Console.Error);
