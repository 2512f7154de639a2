using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.PostgreSql;

namespace Outbox.Cli;

/// <summary>The commands of <c>dotnet outbox</c>. Exit codes: 0 success, 1 failure, 2 usage error.</summary>
internal static class OutboxCli
{
    public const string ConnectionVariable = "OUTBOX_CONNECTION";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var connection = new Option<string?>("--connection", "-c") { Description = $"PostgreSQL connection string (default: the {ConnectionVariable} environment variable)", Recursive = true };
        var schema = new Option<string>("--schema") { Description = "Outbox schema", DefaultValueFactory = _ => "outbox", Recursive = true };
        var table = new Option<string>("--table") { Description = "Outbox table", DefaultValueFactory = _ => "messages", Recursive = true };
        var lanes = new Option<int>("--lanes") { Description = "Lane count", DefaultValueFactory = _ => 64, Recursive = true };
        var json = new Option<bool>("--json") { Description = "Machine-readable output", Recursive = true };
        var settings = new Option<FileInfo?>("--settings")
        {
            Description = "The application's settings file (appsettings.json): the outbox options are read from its 'Outbox' section " +
                          "(Schema, MessagesTable, LanesTable, DeadLettersTable, InboxTable, InboxOffsetsTable, LaneCount, TopicTemplate); options given here win",
            Recursive = true,
        };
        var settingsSection = new Option<string>("--settings-section") { Description = "The section of --settings with the outbox options", DefaultValueFactory = _ => "Outbox", Recursive = true };
        var connectionName = new Option<string?>("--connection-name")
        {
            Description = "Read the connection string ConnectionStrings:<name> from --settings (when --connection and OUTBOX_CONNECTION are not given)",
            Recursive = true,
        };
        var lanesTable = new Option<string?>("--lanes-table") { Description = "Lanes table (OutboxOptions.LanesTable, default lanes)", Recursive = true };
        var deadLettersTable = new Option<string?>("--dead-letters-table") { Description = "Dead-letter table (OutboxOptions.DeadLettersTable, default dead_letters)", Recursive = true };
        var inboxTable = new Option<string?>("--inbox-table") { Description = "Inbox table (OutboxOptions.InboxTable, default inbox)", Recursive = true };
        var inboxOffsetsTable = new Option<string?>("--inbox-offsets-table") { Description = "Inbox offsets table (OutboxOptions.InboxOffsetsTable, default inbox_offsets)", Recursive = true };
        var topicTemplate = new Option<string?>("--topic-template") { Description = "Topic template (OutboxOptions.TopicTemplate, default outbox.event.{aggregatetype})", Recursive = true };

        var root = new RootCommand("Outbox operations: schema, status, parked keys, dead letters, Debezium connector config.");
        root.Options.Add(connection);
        root.Options.Add(schema);
        root.Options.Add(table);
        root.Options.Add(lanes);
        root.Options.Add(json);
        root.Options.Add(settings);
        root.Options.Add(settingsSection);
        root.Options.Add(connectionName);
        root.Options.Add(lanesTable);
        root.Options.Add(deadLettersTable);
        root.Options.Add(inboxTable);
        root.Options.Add(inboxOffsetsTable);
        root.Options.Add(topicTemplate);

        var commitOrder = new Option<OutboxCommitOrder>("--commit-order")
        {
            Description = "Trigger (default): the commit-order trigger, needed by the polling relay, fine for every relay. " +
                          "WriteAheadLog: no trigger, cheaper writes, for the CDC relay or Debezium only (they read commit order from the WAL)",
            DefaultValueFactory = _ => OutboxCommitOrder.Trigger,
        };
        var schemaCommand = new Command("schema", "Print the DDL that creates the outbox objects.") { commitOrder };
        schemaCommand.SetAction(parse =>
        {
            try
            {
                stdout.WriteLine(OutboxSchema.CreateScript(Options(parse), parse.GetValue(commitOrder)));
                return 0;
            }
            catch (OutboxConfigurationException ex)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        root.Subcommands.Add(schemaCommand);

        var databaseEntries = new Option<string[]>("--database")
        {
            Description = "A database of an outbox that spans many, as NAME=CONNECTION_STRING (repeat it for each): status then lists every database instead of the --connection one",
            HelpName = "NAME=CONNECTION_STRING",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var databasesFile = new Option<FileInfo?>("--databases-file")
        {
            Description = "A file with one NAME=CONNECTION_STRING per line (blank lines and lines starting with '#' are ignored): status lists every database",
            HelpName = "PATH",
        };
        var statusCommand = new Command("status", "Pending rows per lane, oldest age, relay leases, dead letters, CDC slots, inboxes; with --database/--databases-file, a row per database.")
        {
            databaseEntries, databasesFile,
        };
        statusCommand.SetAction((parse, ct) =>
        {
            if (parse.GetValue(databaseEntries) is { Length: > 0 } || parse.GetValue(databasesFile) is not null)
            {
                return ManyDatabasesStatusAsync(parse, ct);
            }

            return WithAdministrationAsync(parse, async admin =>
            {
                var status = await admin.GetStatusAsync(ct);
                if (parse.GetValue(json))
                {
                    stdout.WriteLine(JsonSerializer.Serialize(status, Json));
                }
                else
                {
                    StatusWriter.Write(status, stdout);
                }

                return 0;
            });
        });
        root.Subcommands.Add(statusCommand);

        var deadLetters = new Command("dead-letters", "List, show, replay or purge the relay's dead letters.");
        var limit = new Option<int>("--limit") { Description = "How many to list", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List dead letters, oldest first.") { limit };
        list.SetAction((parse, ct) => WithAdministrationAsync(parse, async admin =>
        {
            var rows = await admin.ListDeadLettersAsync(parse.GetValue(limit), ct);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(rows, Json));
            }
            else
            {
                TableWriter.Write(
                    stdout,
                    ["id", "type", "aggregate", "attempts", "dead-lettered at", "error"],
                    rows.Select(r => new[] { r.Id.ToString(), r.Type, r.AggregateType + "/" + r.AggregateId, r.Attempts.ToString(CultureInfo.InvariantCulture), r.DeadLetteredAt.ToString("u", CultureInfo.InvariantCulture), Shorten(r.LastError, 60) }));
                stdout.WriteLine($"{rows.Count} dead letter(s) shown.");
            }

            return 0;
        }));

        var idArgument = new Argument<Guid>("id") { Description = "Dead letter id" };
        var show = new Command("show", "Show one dead letter with its payload and error.") { idArgument };
        show.SetAction((parse, ct) => WithAdministrationAsync(parse, async admin =>
        {
            var row = await admin.GetDeadLetterAsync(parse.GetValue(idArgument), ct);
            if (row is null)
            {
                stderr.WriteLine($"No dead letter with id {parse.GetValue(idArgument)}.");
                return 1;
            }

            stdout.WriteLine(JsonSerializer.Serialize(row, Json));
            return 0;
        }));

        var ids = new Argument<Guid[]>("ids") { Description = "Dead letter ids", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Every dead letter" };
        var yes = new Option<bool>("--yes") { Description = "Confirm a destructive action" };
        var replay = new Command("replay", "Move dead letters back into the outbox, in their original order, to be published again.") { ids, all, yes };
        replay.SetAction((parse, ct) => ChangeAsync(parse, "replay", requireConfirmation: parse.GetValue(all), (admin, selected) => admin.ReplayDeadLettersAsync(selected, ct)));
        var purge = new Command("purge", "Delete dead letters for good.") { ids, all, yes };
        purge.SetAction((parse, ct) => ChangeAsync(parse, "purge", requireConfirmation: true, (admin, selected) => admin.PurgeDeadLettersAsync(selected, ct)));
        deadLetters.Subcommands.Add(list);
        deadLetters.Subcommands.Add(show);
        deadLetters.Subcommands.Add(replay);
        deadLetters.Subcommands.Add(purge);
        root.Subcommands.Add(deadLetters);

        var parked = new Command("parked", "List, show, replay or discard keys a relay parked (an event failed for good: it and every later event of its key wait).");
        var parkedLimit = new Option<int>("--limit") { Description = "Most keys shown", DefaultValueFactory = _ => 100 };
        var retrying = new Option<bool>("--retrying") { Description = "Also list keys waiting for an automatic retry" };
        var parkedList = new Command("list", "List parked keys, the longest parked first.") { parkedLimit, retrying };
        parkedList.SetAction((parse, ct) => WithDatabaseAsync(parse, async (dataSource, options) =>
        {
            var keys = await new OutboxParking(dataSource, options).ListAsync(Math.Max(1, parse.GetValue(parkedLimit)), parse.GetValue(retrying), ct);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(keys, Json));
            }
            else
            {
                TableWriter.Write(
                    stdout,
                    ["aggregate type", "aggregate id", "state", "since", "attempts", "waiting", "failed event", "error"],
                    keys.Select(k => new[]
                    {
                        k.AggregateType, k.AggregateId, k.State == ParkedKeyState.Parked ? "parked" : "retrying",
                        (k.ParkedAt ?? k.UpdatedAt).ToString("u", CultureInfo.InvariantCulture), k.Attempts.ToString(CultureInfo.InvariantCulture),
                        k.WaitingEvents.ToString(CultureInfo.InvariantCulture), k.MessageId.ToString(), Shorten(k.LastError, 60),
                    }));
                stdout.WriteLine($"{keys.Count} key(s) shown.");
            }

            return 0;
        }));
        var aggregateType = new Argument<string>("aggregate-type") { Description = "The key's aggregate type" };
        var aggregateId = new Argument<string>("aggregate-id") { Description = "The key's aggregate id" };
        var parkedShow = new Command("show", "Show a held key with its failed event's error.") { aggregateType, aggregateId };
        parkedShow.SetAction((parse, ct) => WithDatabaseAsync(parse, async (dataSource, options) =>
        {
            var key = await new OutboxParking(dataSource, options).GetAsync(parse.GetValue(aggregateType)!, parse.GetValue(aggregateId)!, ct);
            if (key is null)
            {
                stderr.WriteLine($"Key {parse.GetValue(aggregateType)}/{parse.GetValue(aggregateId)} is not held.");
                return 1;
            }

            stdout.WriteLine(JsonSerializer.Serialize(key, Json));
            return 0;
        }));
        var parkedReplay = new Command("replay", "Publish a held key's waiting events again, in their order, the failed one first (fix the cause first).") { aggregateType, aggregateId };
        parkedReplay.SetAction((parse, ct) => ReleaseAsync(parse, "replayed", (parking, type, id) => parking.ReplayAsync(type, id, ct)));
        var discardYes = new Option<bool>("--yes") { Description = "Confirm: the failed event is not published (it stays in the dead-letter table)" };
        var parkedDiscard = new Command(
            "discard", "Move a held key's failed event to the dead-letter table and publish the key's later events, in order.") { aggregateType, aggregateId, discardYes };
        parkedDiscard.SetAction((parse, ct) =>
        {
            if (!parse.GetValue(discardYes))
            {
                stderr.WriteLine("'parked discard' skips the failed event (it moves to the dead-letter table, from where it can still be replayed): add --yes to confirm.");
                return Task.FromResult(2);
            }

            return ReleaseAsync(parse, "discarded the failed event of", (parking, type, id) => parking.DiscardAsync(type, id, ct));
        });
        parked.Subcommands.Add(parkedList);
        parked.Subcommands.Add(parkedShow);
        parked.Subcommands.Add(parkedReplay);
        parked.Subcommands.Add(parkedDiscard);

        // The inbox's parked keys: a record a consumer group could not handle for good, and the later records of its key.
        var inbox = new Command("inbox", "List, show, replay or discard keys an inbox consumer group parked (a record failed for good: it and the later records of its key in its partition wait).");
        var group = new Option<string?>("--group") { Description = "Consumer group" };
        var requiredGroup = new Option<string>("--group") { Description = "Consumer group", Required = true };
        var topicOption = new Option<string>("--topic") { Description = "Topic", Required = true };
        var partitionOption = new Option<int>("--partition") { Description = "Partition", Required = true };
        var keyOption = new Option<string?>("--key") { Description = "The record key as 'parked inbox list' shows it (UTF-8 text, or base64:...)" };
        var noKey = new Option<bool>("--no-key") { Description = "The records without a key" };
        var inboxList = new Command("list", "List the inbox's parked keys, oldest first.") { group, parkedLimit };
        inboxList.SetAction((parse, ct) => WithDatabaseAsync(parse, async (dataSource, options) =>
        {
            var keys = await new InboxParking(dataSource, options).ListAsync(parse.GetValue(group), Math.Max(1, parse.GetValue(parkedLimit)), ct);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(keys, Json));
            }
            else
            {
                TableWriter.Write(
                    stdout,
                    ["group", "topic", "partition", "key", "offset", "since", "attempts", "held", "replay asked", "error"],
                    keys.Select(k => new[]
                    {
                        k.ConsumerGroup, k.Topic, k.Partition.ToString(CultureInfo.InvariantCulture), k.Key ?? "(no key)", k.HeadOffset.ToString(CultureInfo.InvariantCulture),
                        k.ParkedAt.ToString("u", CultureInfo.InvariantCulture), k.Attempts.ToString(CultureInfo.InvariantCulture), k.HeldCount.ToString(CultureInfo.InvariantCulture),
                        k.ReplayRequested ? "yes" : "no", Shorten(k.Error, 60),
                    }));
                stdout.WriteLine($"{keys.Count} key(s) shown.");
            }

            return 0;
        }));
        var inboxShow = new Command("show", "Show the parked and held records of one key, in offset order.") { requiredGroup, topicOption, partitionOption, keyOption, noKey };
        inboxShow.SetAction((parse, ct) => InboxKeyAsync(parse, async (parking, g, t, p, k) =>
        {
            var records = await parking.GetAsync(g, t, p, k, ct);
            if (records.Count == 0)
            {
                stderr.WriteLine($"No parked records of key {k ?? "(no key)"} in {g} {t}[{p}].");
                return 1;
            }

            stdout.WriteLine(JsonSerializer.Serialize(records, Json));
            return 0;
        }));
        var inboxReplay = new Command("replay", "Ask the partition's consumer to handle the key's parked and held records again, in offset order (fix the cause first).")
        {
            requiredGroup, topicOption, partitionOption, keyOption, noKey,
        };
        inboxReplay.SetAction((parse, ct) => InboxKeyAsync(parse, async (parking, g, t, p, k) =>
            await parking.ReplayAsync(g, t, p, k, ct) ? Done("replay", g, t, p, k) : NotParked(g, t, p, k)));
        var inboxDiscardYes = new Option<bool>("--yes") { Description = "Confirm: the parked record is dropped" };
        var inboxDiscard = new Command("discard", "Drop the key's parked record; its held records are then handled in offset order.")
        {
            requiredGroup, topicOption, partitionOption, keyOption, noKey, inboxDiscardYes,
        };
        inboxDiscard.SetAction((parse, ct) =>
        {
            if (!parse.GetValue(inboxDiscardYes))
            {
                stderr.WriteLine("'parked inbox discard' drops the parked record for good: add --yes to confirm.");
                return Task.FromResult(2);
            }

            return InboxKeyAsync(parse, async (parking, g, t, p, k) =>
                await parking.DiscardAsync(g, t, p, k, ct) ? Done("discard", g, t, p, k) : NotParked(g, t, p, k));
        });
        inbox.Subcommands.Add(inboxList);
        inbox.Subcommands.Add(inboxShow);
        inbox.Subcommands.Add(inboxReplay);
        inbox.Subcommands.Add(inboxDiscard);
        parked.Subcommands.Add(inbox);
        root.Subcommands.Add(parked);

        var connectorName = new Option<string>("--connector-name") { Description = "Kafka Connect connector name", DefaultValueFactory = _ => "outbox" };
        var slot = new Option<string>("--slot") { Description = "Replication slot Debezium uses", DefaultValueFactory = _ => "outbox_debezium" };
        var publication = new Option<string>("--publication") { Description = "Publication of the outbox table", DefaultValueFactory = _ => "outbox" };
        var topicPrefix = new Option<string>("--topic-prefix") { Description = "Debezium topic.prefix", DefaultValueFactory = _ => "outbox" };
        var hostname = new Option<string?>("--database-hostname") { Description = "Host name as Kafka Connect reaches it (default: from the connection string)" };
        var password = new Option<string?>("--database-password")
        {
            Description = "The connector's database.password, typically a Kafka Connect config provider reference such as " +
                          "'${file:/opt/secrets/outbox.properties:password}' (default: the connection string's password, in clear text)",
        };
        var port = new Option<int?>("--database-port") { Description = "Port as Kafka Connect reaches it (default: from the connection string)" };
        var debezium = new Command("debezium-config", "Print the Kafka Connect request body of a Debezium connector with the outbox EventRouter.")
        {
            connectorName, slot, publication, topicPrefix, hostname, port, password,
        };
        debezium.SetAction(parse =>
        {
            string? connectionString;
            try
            {
                connectionString = ConnectionString(parse);
            }
            catch (Exception ex) when (ex is OutboxConfigurationException or InvalidDataException or IOException)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 1;
            }

            if (string.IsNullOrWhiteSpace(connectionString))
            {
                stderr.WriteLine($"No database: pass --connection \"Host=...;Database=...\" or set {ConnectionVariable} (the connector's " +
                                 "database.* settings come from it; pass --database-hostname/--database-port when Kafka Connect reaches it by another address).");
                return 2;
            }

            try
            {
                var options = new DebeziumOptions
                {
                    ConnectorName = parse.GetValue(connectorName)!,
                    SlotName = parse.GetValue(slot)!,
                    PublicationName = parse.GetValue(publication)!,
                    TopicPrefix = parse.GetValue(topicPrefix)!,
                    DatabaseHostname = parse.GetValue(hostname),
                    DatabasePort = parse.GetValue(port),
                    DatabasePassword = parse.GetValue(password),
                    ConnectionString = connectionString,
                };
                stdout.WriteLine(DebeziumConnectorConfig.Create(Options(parse), options));
                return 0;
            }
            catch (Exception ex) when (ex is OutboxConfigurationException or ArgumentException)
            {
                stderr.WriteLine(ex.Message);
                return 1;
            }
        });
        root.Subcommands.Add(debezium);

        var dropSlot = new Option<string>("--slot") { Description = "Replication slot to drop", DefaultValueFactory = _ => "outbox_cdc" };
        var dropPublication = new Option<string>("--publication") { Description = "Publication to drop", DefaultValueFactory = _ => "outbox" };
        var dropYes = new Option<bool>("--yes") { Description = "Confirm: the relay then starts from a new slot" };
        var dropReplication = new Command(
            "drop-replication",
            "Drop a CDC relay's (or Debezium's) replication slot and publication, e.g. when uninstalling: an abandoned slot keeps WAL forever. Stop the relay first.")
        {
            dropSlot, dropPublication, dropYes,
        };
        dropReplication.SetAction((parse, ct) =>
        {
            if (!parse.GetValue(dropYes))
            {
                stderr.WriteLine("'drop-replication' drops the slot for good (a relay started later makes a new one and publishes the table's rows from it): add --yes to confirm.");
                return Task.FromResult(2);
            }

            return WithDatabaseAsync(parse, async (dataSource, options) =>
            {
                var slotName = parse.GetValue(dropSlot)!;
                var publicationName = parse.GetValue(dropPublication)!;
                ReplicationDrop dropped;
                try
                {
                    dropped = await new OutboxAdministration(dataSource, options, TimeProvider.System).DropReplicationAsync(slotName, publicationName, ct);
                }
                catch (ArgumentException ex) when (ex.ParamName is "slotName" or "publicationName")
                {
                    var option = ex.ParamName == "slotName" ? "--slot" : "--publication";
                    stderr.WriteLine($"error: {option}: {ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal)}");
                    return 1;
                }

                switch (dropped.Slot)
                {
                    case ReplicationSlotDrop.InUse:
                        stderr.WriteLine($"error: replication slot '{slotName}' is in use by server process {dropped.SlotActivePid?.ToString(CultureInfo.InvariantCulture) ?? "?"} (a running relay or Debezium connector): stop it first.");
                        return 1;
                    case ReplicationSlotDrop.NotFound:
                        stdout.WriteLine($"No replication slot '{slotName}' in this database.");
                        break;
                    default:
                        stdout.WriteLine($"Dropped replication slot '{slotName}'.");
                        break;
                }

                stdout.WriteLine(dropped.PublicationFound ? $"Dropped publication '{publicationName}'." : $"No publication '{publicationName}' in this database.");
                return 0;
            });
        });
        root.Subcommands.Add(dropReplication);

        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            // A usage error: exit 2 (System.CommandLine's own default is 1, which scripts cannot tell from a failure).
            foreach (var error in parseResult.Errors)
            {
                stderr.WriteLine(error.Message);
            }

            stderr.WriteLine("Run 'dotnet outbox --help' (or 'dotnet outbox <command> --help') for usage.");
            return 2;
        }

        return await parseResult.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken);

        // The application's settings file, if given (read once per run).
        IConfiguration? Settings(ParseResult parse)
        {
            if (parse.GetValue(settings) is not { } file)
            {
                return null;
            }

            if (!file.Exists)
            {
                throw new OutboxConfigurationException($"The settings file '{file.FullName}' (--settings) does not exist.");
            }

            try
            {
                return new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false, reloadOnChange: false).Build();
            }
            catch (InvalidDataException ex)
            {
                throw new OutboxConfigurationException($"The settings file '{file.FullName}' (--settings) is not valid JSON: {ex.Message}");
            }
        }

        string? ConnectionString(ParseResult parse)
        {
            if ((parse.GetValue(connection) ?? Environment.GetEnvironmentVariable(ConnectionVariable)) is { Length: > 0 } given)
            {
                return given;
            }

            if (parse.GetValue(connectionName) is { Length: > 0 } name)
            {
                var found = Settings(parse)?.GetConnectionString(name);
                return found ?? throw new OutboxConfigurationException(
                    parse.GetValue(settings) is null
                        ? "--connection-name needs --settings (the file with the ConnectionStrings section)."
                        : $"The settings file has no connection string '{name}' (ConnectionStrings:{name}).");
            }

            return null;
        }

        OutboxOptions Options(ParseResult parse)
        {
            // Defaults, then the application's settings file, then the options given on the command line.
            var options = new OutboxOptions();
            if (Settings(parse) is { } configuration)
            {
                var section = configuration.GetSection(parse.GetValue(settingsSection)!);
                if (!section.Exists())
                {
                    throw new OutboxConfigurationException($"The settings file has no '{section.Path}' section (--settings-section): nothing to read the outbox options from.");
                }

                section.Bind(options);
            }

            Given(schema, v => options.Schema = v!);
            Given(table, v => options.MessagesTable = v!);
            Given(lanes, v => options.LaneCount = v);
            Given(lanesTable, v => options.LanesTable = v!);
            Given(deadLettersTable, v => options.DeadLettersTable = v!);
            Given(inboxTable, v => options.InboxTable = v!);
            Given(inboxOffsetsTable, v => options.InboxOffsetsTable = v!);
            Given(topicTemplate, v => options.TopicTemplate = v!);
            // The validators AddOutbox registers (data annotations and cross-field rules): the checks a host makes at start.
            using var validation = new ServiceCollection().AddOutbox().Services.BuildServiceProvider();
            var failures = validation.GetServices<IValidateOptions<OutboxOptions>>()
                .Select(v => v.Validate(Microsoft.Extensions.Options.Options.DefaultName, options))
                .Where(r => r.Failed)
                .SelectMany(r => r.Failures ?? [])
                .ToList();
            if (failures.Count > 0)
            {
                throw new OutboxConfigurationException(string.Join("; ", failures));
            }

            return options;

            void Given<T>(Option<T> option, Action<T> apply)
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    apply(parse.GetValue(option)!);
                }
            }
        }

        Task<int> WithAdministrationAsync(ParseResult parse, Func<OutboxAdministration, Task<int>> action) =>
            WithDatabaseAsync(parse, (dataSource, options) => action(new OutboxAdministration(dataSource, options, TimeProvider.System)));

        async Task<int> WithDatabaseAsync(ParseResult parse, Func<NpgsqlDataSource, OutboxOptions, Task<int>> action)
        {
            string? cs;
            try
            {
                cs = ConnectionString(parse);
            }
            catch (OutboxConfigurationException ex)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 1;
            }

            if (string.IsNullOrWhiteSpace(cs))
            {
                stderr.WriteLine($"No database: pass --connection \"Host=...;Database=...\" or set {ConnectionVariable}.");
                return 2;
            }

            try
            {
                var options = Options(parse);
                await using var dataSource = NpgsqlDataSource.Create(cs);
                return await action(dataSource, options);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                var options = Options(parse);
                stderr.WriteLine(
                    $"error: no outbox schema here: database '{new NpgsqlConnectionStringBuilder(cs).Database}' has no {ex.MessageText.Replace("relation ", "table ", StringComparison.Ordinal)} " +
                    $"(schema '{options.Schema}', table '{options.MessagesTable}'). Create it with `dotnet outbox schema{(options.Schema != "outbox" ? " --schema " + options.Schema : "")}" +
                    $"{(options.MessagesTable != "messages" ? " --table " + options.MessagesTable : "")} | psql \"<connection>\"`, OutboxSchema.CreateScript in a migration, " +
                    "or PostgreSqlOutboxOptions.EnsureSchemaOnStart; or pass the --schema/--table your application uses.");
                return 1;
            }
            catch (Exception ex) when (ex is NpgsqlException or OutboxConfigurationException or ArgumentException or InvalidOperationException)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 1;
            }
        }

        // status over every database of an outbox that spans many (--database, --databases-file).
        async Task<int> ManyDatabasesStatusAsync(ParseResult parse, CancellationToken ct)
        {
            if (parse.GetValue(connection) is not null || parse.GetValue(connectionName) is not null)
            {
                stderr.WriteLine("error: pass either --connection/--connection-name (one database) or --database/--databases-file (every database of an outbox that spans many), not both.");
                return 2;
            }

            IReadOnlyList<OutboxDatabase> databases;
            try
            {
                databases = DatabaseList.Read(parse.GetValue(databaseEntries) ?? [], parse.GetValue(databasesFile));
            }
            catch (OutboxConfigurationException ex)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 2;
            }

            if (databases.Count == 0)
            {
                stderr.WriteLine($"error: --databases-file '{parse.GetValue(databasesFile)?.FullName}' lists no database (one NAME=CONNECTION_STRING per line).");
                return 2;
            }

            OutboxOptions options;
            try
            {
                options = Options(parse);
            }
            catch (Exception ex) when (ex is OutboxConfigurationException or ArgumentException or InvalidOperationException)
            {
                stderr.WriteLine($"error: {ex.Message}");
                return 1;
            }

            var statuses = await DatabaseStatusReader.ReadAsync(databases, options, TimeProvider.System, ct);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(statuses.Select(s => new { Database = s.Name, s.Status, s.Error }), Json));
            }
            else
            {
                DatabaseStatusWriter.Write(statuses, stdout);
            }

            var failed = statuses.Where(s => s.Status is null).Select(s => s.Name).ToList();
            if (failed.Count > 0)
            {
                stderr.WriteLine($"error: {failed.Count} of {statuses.Count} database(s) could not be read: {string.Join(", ", failed)}.");
                return 1;
            }

            return 0;
        }

        Task<int> InboxKeyAsync(ParseResult parse, Func<InboxParking, string, string, int, string?, Task<int>> action)
        {
            var key = parse.GetValue(keyOption);
            if ((key is null) != parse.GetValue(noKey))
            {
                stderr.WriteLine("Name the key with --key <key as listed>, or pass --no-key for the records without a key (not both).");
                return Task.FromResult(2);
            }

            return WithDatabaseAsync(parse, (dataSource, options) =>
                action(new InboxParking(dataSource, options), parse.GetValue(requiredGroup)!, parse.GetValue(topicOption)!, parse.GetValue(partitionOption), key));
        }

        int Done(string verb, string g, string t, int p, string? k)
        {
            stdout.WriteLine($"Asked for a {verb} of key {k ?? "(no key)"} in {g} {t}[{p}]: the consumer that owns the partition carries it out within InboxConsumerOptions.ParkedCheckInterval.");
            return 0;
        }

        int NotParked(string g, string t, int p, string? k)
        {
            stderr.WriteLine($"Key {k ?? "(no key)"} is not parked in {g} {t}[{p}] (see 'dotnet outbox parked inbox list').");
            return 1;
        }

        Task<int> ReleaseAsync(ParseResult parse, string verb, Func<OutboxParking, string, string, Task<bool>> release) =>
            WithDatabaseAsync(parse, async (dataSource, options) =>
            {
                var type = parse.GetValue(aggregateType)!;
                var id = parse.GetValue(aggregateId)!;
                if (!await release(new OutboxParking(dataSource, options), type, id))
                {
                    stderr.WriteLine($"Key {type}/{id} is not held (see 'dotnet outbox parked list --retrying').");
                    return 1;
                }

                stdout.WriteLine($"{char.ToUpperInvariant(verb[0])}{verb[1..]} key {type}/{id}: its waiting events are published in order.");
                return 0;
            });

        Task<int> ChangeAsync(ParseResult parse, string verb, bool requireConfirmation, Func<OutboxAdministration, IReadOnlyCollection<Guid>?, Task<int>> change)
        {
            var selected = parse.GetValue(ids) ?? [];
            var everything = parse.GetValue(all);
            if (selected.Length == 0 && !everything)
            {
                stderr.WriteLine($"Name the dead letters to {verb} by id, or pass --all.");
                return Task.FromResult(2);
            }

            if (selected.Length > 0 && everything)
            {
                stderr.WriteLine("Pass either ids or --all, not both.");
                return Task.FromResult(2);
            }

            if (requireConfirmation && !parse.GetValue(yes))
            {
                stderr.WriteLine($"'{verb}{(everything ? " --all" : "")}' changes data for good: add --yes to confirm.");
                return Task.FromResult(2);
            }

            return WithAdministrationAsync(parse, async admin =>
            {
                var affected = await change(admin, everything ? null : selected);
                stdout.WriteLine($"{verb}: {affected} dead letter(s).");
                if (!everything && affected < selected.Length)
                {
                    stderr.WriteLine($"{selected.Length - affected} of the given ids were not found.");
                    return 1;
                }

                return 0;
            });
        }
    }

    private static string Shorten(string? text, int length) =>
        text is null ? "" : text.Length <= length ? text : text[..(length - 1)] + "…";
}
