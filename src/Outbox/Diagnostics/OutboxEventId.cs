namespace Outbox;

/// <summary>
/// The event ids of every message the Outbox packages log, for filtering and alerting (for example
/// <c>OutboxEventId.CdcFaulted</c>). The number of a message never changes once shipped; ranges: 1000-1099 the relays
/// (polling relay, and settlement shared by both relays), 1100 the relay fleet over many databases, 2100 schema, 3000 the Kafka producer, 4000 the inbox, 4100 the
/// inbox consumer, 5000 the CDC relay, 5100 Debezium mode.
/// </summary>
public static class OutboxEventId
{
    /// <summary>Information: Polling relay {InstanceId} started: {LaneCount} lanes, batch {BatchSize}, {MaxConcurrentLanes} lanes in flight</summary>
    public const int PollingRelayStarted = 1001;

    /// <summary>Information: Polling relay {InstanceId} stopped and released {Count} lanes</summary>
    public const int PollingRelayStopped = 1002;

    /// <summary>Information: Polling relay {InstanceId} acquired lanes {Lanes} ({Held} held, share {Share} of {LiveInstances} instances)</summary>
    public const int PollingRelayAcquired = 1003;

    /// <summary>Information: Polling relay {InstanceId} released lanes {Lanes} to rebalance (share {Share} of {LiveInstances} instances)</summary>
    public const int PollingRelayReleased = 1004;

    /// <summary>Warning: Polling relay {InstanceId} lost the leases of lanes {Lanes}</summary>
    public const int PollingRelayLeasesLost = 1005;

    /// <summary>Warning: Draining lanes {Lanes} failed; retrying in {Delay}</summary>
    public const int PollingRelayDrainFailed = 1009;

    /// <summary>Warning: Lane {Lane}: the lease (epoch {Epoch}) was taken over before the batch was completed; another instance republishes it</summary>
    public const int PollingRelayCompletionFenced = 1010;

    /// <summary>Warning: Rows exist in lanes {Lanes}, at or above LaneCount {LaneCount}: no relay drains them. Was OutboxOptions.LaneCount lowered? See docs/relay-polling.md</summary>
    public const int PollingRelayOrphanLanes = 1011;

    /// <summary>Warning: The polling relay's {Loop} loop failed; it continues after {Delay}</summary>
    public const int PollingRelayLoopFailed = 1012;

    /// <summary>Debug: Deleted {Count} published rows older than the retention period</summary>
    public const int PollingRelayCleanedUp = 1013;

    /// <summary>Warning: Lane {Lane}: the lease (epoch {Epoch}) may have been taken over while this instance was paused after reading a batch; the batch was not published (its rows are another instance's now)</summary>
    public const int PollingRelayStaleBatchDropped = 1014;

    /// <summary>Warning: The {Relay} relay could not publish event {Id} of key {AggregateType}/{AggregateId} (failed attempt {Attempts}); that key waits {Delay} and is tried again, in order, while every other key goes on: {Error}</summary>
    public const int SettlementKeyRetrying = 1020;

    /// <summary>Error: The {Relay} relay parked key {AggregateType}/{AggregateId}: event {Id} failed {Attempts} time(s) and {Reason}. It and every later event of the key wait, in order, until an operator replays or discards the key (dotnet outbox parked); every other key goes on. Last error: {Error}</summary>
    public const int SettlementKeyParked = 1021;

    /// <summary>Warning: The {Relay} relay could not publish {Rows} record(s) for a reason that is not theirs (the broker or the network); retrying in {Delay}, without counting it against them: {Error}</summary>
    public const int SettlementTransientFailure = 1022;

    /// <summary>Information: Outbox database {Database} joined: {What}</summary>
    public const int FleetDatabaseStarted = 1101;

    /// <summary>Information: Outbox database {Database} left: its relay stopped and gave its lanes back</summary>
    public const int FleetDatabaseStopped = 1102;

    /// <summary>Error: Outbox database {Database} cannot be served yet ({Step}); trying again at the next refresh</summary>
    public const int FleetDatabaseFailed = 1103;

    /// <summary>Error: The outbox database source failed; the databases known before keep running, and it is asked again in {Delay}</summary>
    public const int FleetSourceFailed = 1104;

    /// <summary>Error: The outbox database source returned the name {Database} more than once; the first entry is served, the others are ignored</summary>
    public const int FleetDuplicateDatabase = 1105;

    /// <summary>Warning: Reading the activity of the databases on {Server} failed; their relays find new rows by their own polls meanwhile</summary>
    public const int FleetActivityCheckFailed = 1106;

    /// <summary>Information: This instance streams {Mine} CDC slots on {Server}, more than its fair share of {Fair} among {Instances} instances: it gives the slot of database {Database} back to the others</summary>
    public const int FleetSlotGivenBack = 1107;

    /// <summary>Warning: Counting the fleet's instances on {Server} failed; this instance takes that server's free CDC slots first come, first served meanwhile</summary>
    public const int FleetPresenceFailed = 1108;

    /// <summary>Information: Outbox schema ensured for {Table} (commit order: {CommitOrder})</summary>
    public const int SchemaEnsured = 2101;

    /// <summary>Warning: The commit-order trigger {Trigger} on {Table} is kept although only the CDC relay or Debezium is registered: every write pays for it at commit. Once no polling relay runs on this table any more, drop it: {DropStatement}</summary>
    public const int SchemaCommitTriggerKept = 2102;

    /// <summary>Warning: The database could not be reached to check the polling relay's commit-order trigger at start; the relay checks again before it leases a lane</summary>
    public const int SchemaCommitOrderCheckDeferred = 2103;

    /// <summary>Warning: Kafka producer error {Code}: {Reason}</summary>
    public const int ProducerError = 3001;

    /// <summary>Error: Kafka producer fatal error {Code}: {Reason}; the producer is disposed and a new one is created for the next batch</summary>
    public const int ProducerFatalError = 3002;

    /// <summary>Information: Kafka producer created (generation {Generation})</summary>
    public const int ProducerCreated = 3003;

    /// <summary>Warning: {Count} Kafka deliveries were still outstanding after the flush time limit of {FlushTimeout}</summary>
    public const int ProducerFlushTimedOut = 3004;

    /// <summary>Warning: Disposing a retired Kafka producer failed</summary>
    public const int ProducerRetireFailed = 3005;

    /// <summary>Debug: librdkafka {Facility}: {Message}</summary>
    public const int ProducerLibrdkafka = 3006;

    /// <summary>Warning: {Count} Kafka deliveries were not acknowledged within {Timeout} (message.timeout.ms); they fail as transient and the producer (generation {Generation}) is replaced, so that no later record overtakes them</summary>
    public const int ProducerDeliveryTimedOut = 3007;

    /// <summary>Warning: Handler {Handler} failed on {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}, attempt {Attempt} of {MaxAttempts}); retrying in {Delay}</summary>
    public const int InboxHandlerFailed = 4001;

    /// <summary>Error: Record {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}) was dead-lettered to {DeadLetterTopic}: {Reason}: {Error}</summary>
    public const int InboxDeadLettered = 4002;

    /// <summary>Warning: Inbox transaction of group {ConsumerGroup} for {Topic}[{Partition}] at offset {Offset} failed for a transient reason (attempt not counted); retrying in {Delay}</summary>
    public const int InboxTransactionFailed = 4003;

    /// <summary>Warning: A batch of {Count} records of {Topic}[{Partition}] from offset {Offset} failed in handler {Handler}; handling them one by one</summary>
    public const int InboxBatchFailed = 4004;

    /// <summary>Debug: Event {EventId} at {Topic}[{Partition}]@{Offset} was already handled by group {ConsumerGroup}; skipped</summary>
    public const int InboxDuplicate = 4005;

    /// <summary>Warning: Sending {Topic}[{Partition}]@{Offset} to the dead-letter topic failed; retrying in {Delay}</summary>
    public const int InboxDeadLetterFailed = 4006;

    /// <summary>Error: Record {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}) failed for good and is parked ({Reason}, {Attempts} attempt(s)): {Error}. Later records of its key in this partition are held until it is replayed or discarded</summary>
    public const int InboxParked = 4007;

    /// <summary>Debug: Record {Topic}[{Partition}]@{Offset} (group {ConsumerGroup}) is held: its key is parked</summary>
    public const int InboxHeld = 4008;

    /// <summary>Error: The dead-letter topic refused {Topic}[{Partition}]@{Offset} (group {ConsumerGroup}); the record is stored in the inbox's parked table instead</summary>
    public const int InboxDeadLetterRefused = 4009;

    /// <summary>Debug: Deleted {Count} inbox rows of group {ConsumerGroup} handled before {Cutoff}</summary>
    public const int InboxCleanedUp = 4010;

    /// <summary>Warning: Inbox cleanup of group {ConsumerGroup} failed; trying again in {Interval}</summary>
    public const int InboxCleanupFailed = 4011;

    /// <summary>Information: Replayed {Count} parked record(s) of {Topic}[{Partition}] for group {ConsumerGroup}</summary>
    public const int InboxReplayed = 4012;

    /// <summary>Warning: Checking the parked records of {Topic}[{Partition}] for group {ConsumerGroup} failed; trying again later</summary>
    public const int InboxParkedCheckFailed = 4013;

    /// <summary>Warning: Storing {Topic}[{Partition}]@{Offset} in the parked table for group {ConsumerGroup} failed; retrying in {Delay}</summary>
    public const int InboxParkFailed = 4014;

    /// <summary>Warning: Record {Topic}[{Partition}]@{Offset} of group {ConsumerGroup} names tenant {Tenant}, which the application does not know; it goes to the dead-letter topic</summary>
    public const int InboxUnknownTenant = 4015;

    /// <summary>Warning: Reading the stored offset and parked keys of {Topic}[{Partition}] for group {ConsumerGroup} in the database of tenant {Tenant} failed; retrying in {Delay}</summary>
    public const int InboxTenantOpenFailed = 4016;

    /// <summary>Information: Inbox consumer group {ConsumerGroup} started on topics {Topics}</summary>
    public const int ConsumerStarted = 4101;

    /// <summary>Information: Inbox consumer group {ConsumerGroup} stopped</summary>
    public const int ConsumerStopped = 4102;

    /// <summary>Information: Group {ConsumerGroup} assigned {Partitions}</summary>
    public const int ConsumerAssigned = 4103;

    /// <summary>Information: Group {ConsumerGroup} revoked {Partitions}</summary>
    public const int ConsumerRevoked = 4104;

    /// <summary>Warning: Group {ConsumerGroup} lost {Partitions}: in-flight work is abandoned and rolled back, nothing is committed for them</summary>
    public const int ConsumerLost = 4105;

    /// <summary>Warning: Kafka consumer of group {ConsumerGroup}: {Code}: {Reason}</summary>
    public const int ConsumerError = 4106;

    /// <summary>Warning: Consuming in group {ConsumerGroup} failed</summary>
    public const int ConsumerConsumeFailed = 4107;

    /// <summary>Warning: Reading the stored offsets or parked keys of group {ConsumerGroup} failed; retrying in {Delay}</summary>
    public const int ConsumerReadOffsetsFailed = 4108;

    /// <summary>Debug: Storing offset {Offset} of {Topic}[{Partition}] failed</summary>
    public const int ConsumerStoreOffsetFailed = 4109;

    /// <summary>Error: Kafka consumer of group {ConsumerGroup} had a fatal error {Code}: {Reason}; it is recreated</summary>
    public const int ConsumerFatalError = 4110;

    /// <summary>Error: The partition worker of {Topic}[{Partition}] in group {ConsumerGroup} failed</summary>
    public const int ConsumerWorkerFailed = 4111;

    /// <summary>Debug: librdkafka {Facility}: {Message}</summary>
    public const int ConsumerClientLog = 4112;

    /// <summary>Information: CDC relay streaming from slot {SlotName} (publication {PublicationName})</summary>
    public const int CdcStreaming = 5001;

    /// <summary>Information: CDC relay stopped; slot {SlotName} confirmed up to {ConfirmedLsn}</summary>
    public const int CdcStopped = 5002;

    /// <summary>Information: Created publication {PublicationName} of table {Table} (inserts only)</summary>
    public const int CdcPublicationCreated = 5003;

    /// <summary>Information: Created replication slot {SlotName} at {ConsistentPoint}; {Moved} rows committed before it moved to the backlog</summary>
    public const int CdcSlotCreated = 5004;

    /// <summary>Warning: Replication slot {SlotName} was left half-created by an earlier start; dropping it and creating it again</summary>
    public const int CdcDroppingHalfCreatedSlot = 5005;

    /// <summary>Warning: Replication slot {SlotName} was not created by this relay: using it as it is. Rows committed before it was created are not in its stream</summary>
    public const int CdcAdoptingSlot = 5006;

    /// <summary>Information: Standing by for slot {SlotName}: {Reason}</summary>
    public const int CdcStandby = 5007;

    /// <summary>Information: Publishing {Count} backlog rows (committed before slot {SlotName} was created)</summary>
    public const int CdcDrainingBacklog = 5008;

    /// <summary>Information: Key {AggregateType}/{AggregateId} was released: the CDC relay publishes its events again from the release on</summary>
    public const int CdcKeyFlowsAgain = 5009;

    /// <summary>Information: Key {AggregateType}/{AggregateId} is due for its retry: released, its {Events} waiting event(s) stream again in order</summary>
    public const int CdcRetryReleased = 5010;

    /// <summary>Warning: CDC relay failed; it resumes from the last confirmed position in {Delay}</summary>
    public const int CdcRetrying = 5011;

    /// <summary>Critical: CDC relay cannot go on: {Reason}</summary>
    public const int CdcFaulted = 5012;

    /// <summary>Warning: Publication {PublicationName} also publishes {TableCount} other table(s): their rows are decoded and skipped</summary>
    public const int CdcPublicationHasOtherTables = 5013;

    /// <summary>Warning: The database could not be reached when the CDC relay started; it keeps trying</summary>
    public const int CdcStartupCheckDeferred = 5014;

    /// <summary>Warning: Deleting acknowledged rows or confirming the slot position failed</summary>
    public const int CdcFlushFailed = 5015;

    /// <summary>Warning: Rows were still in flight when the shutdown time limit of {ShutdownTimeout} expired; the next relay publishes them again</summary>
    public const int CdcShutdownTimedOut = 5016;

    /// <summary>Warning: Replication slot {SlotName} is {WalStatus}: the WAL it needs will be removed at the next checkpoint unless the relay catches up (lag {LagBytes} bytes)</summary>
    public const int CdcSlotAtRisk = 5017;

    /// <summary>Warning: Releasing keys due for their retry, or forgetting released keys, failed; the CDC relay goes on streaming and tries again at the next check</summary>
    public const int CdcParkingMaintenanceFailed = 5018;

    /// <summary>Information: CDC relay stopping: finishing the transaction being published and settling the batches in flight (at most {ShutdownTimeout})</summary>
    public const int CdcStopping = 5019;

    /// <summary>Warning: track_commit_timestamp is off: rows written without the commit-order trigger that must be published from the table (a new slot's backlog, a switch to polling) have an unknown commit order when one key has rows of several transactions, and are then refused (PostgreSqlOutboxOptions.UnknownCommitOrder). Set track_commit_timestamp = on (it needs a restart); see docs/relay-cdc.md</summary>
    public const int CdcCommitTimestampsOff = 5030;

    /// <summary>Information: Debezium mode: no relay runs in this process; Debezium's connector reads publication {PublicationName} through slot {SlotName}</summary>
    public const int DebeziumMode = 5101;

    /// <summary>Warning: Debezium mode: the server runs with wal_level = '{WalLevel}'; Debezium's connector needs wal_level = logical</summary>
    public const int DebeziumWalLevelNotLogical = 5102;

    /// <summary>Warning: Debezium mode: the publication could not be checked or created at start; create it before starting the connector (see docs/debezium.md)</summary>
    public const int DebeziumPublicationDeferred = 5103;
}
