namespace Outbox.PostgreSql;

/// <summary>Names of the objects only the polling relay uses, derived from <see cref="OutboxOptions"/>.</summary>
internal static class PollingTableNames
{
    /// <summary>The unquoted name of the table of live relay instances: the lanes table's name + <c>_instances</c>.</summary>
    public static string InstancesTableName(OutboxOptions options) =>
        SqlIdentifier.Validate(options.LanesTable + "_instances", "OutboxOptions.LanesTable (+ \"_instances\", the relay instances table)");

}
