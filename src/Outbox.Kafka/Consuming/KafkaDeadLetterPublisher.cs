using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// Sends records the inbox gives up on to the dead-letter topic: the original key, value and headers, plus the
/// <see cref="DeadLetterHeaders"/>. Idempotent producer, acks=all; completes on the broker's acknowledgement.
/// </summary>
internal sealed class KafkaDeadLetterPublisher : IDeadLetterPublisher, IDisposable
{
    private const int MaxErrorMessageLength = 4000;

    private readonly Lazy<IProducer<byte[]?, byte[]?>> _producer;
    private readonly string _topicTemplate;
    private readonly TimeSpan _flushTimeout;

    public KafkaDeadLetterPublisher(KafkaOptions kafkaOptions, string topicTemplate)
    {
        var config = ConsumerClientConfig.CreateDeadLetterProducer(kafkaOptions);
        _producer = new Lazy<IProducer<byte[]?, byte[]?>>(() => new ProducerBuilder<byte[]?, byte[]?>(config).Build());
        _topicTemplate = topicTemplate;
        _flushTimeout = kafkaOptions.FlushTimeout;
    }

    public string GetTopic(string topic) => _topicTemplate.Replace(InboxConsumerOptions.TopicPlaceholder, topic, StringComparison.Ordinal);

    public async Task<string> PublishAsync(InboxRecord record, string consumerGroup, DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(deadLetter);
        var headers = new Headers();
        foreach (var header in record.Headers)
        {
            headers.Add(header.Key, header.Value);
        }

        var message = deadLetter.ErrorMessage.Length > MaxErrorMessageLength
            ? deadLetter.ErrorMessage[..MaxErrorMessageLength]
            : deadLetter.ErrorMessage;
        Add(headers, DeadLetterHeaders.OriginalTopic, record.Topic);
        Add(headers, DeadLetterHeaders.OriginalPartition, record.Partition.ToString(CultureInfo.InvariantCulture));
        Add(headers, DeadLetterHeaders.OriginalOffset, record.Offset.ToString(CultureInfo.InvariantCulture));
        Add(headers, DeadLetterHeaders.ConsumerGroup, consumerGroup);
        Add(headers, DeadLetterHeaders.Reason, deadLetter.Reason);
        Add(headers, DeadLetterHeaders.ErrorType, deadLetter.ErrorType);
        Add(headers, DeadLetterHeaders.ErrorMessage, message);
        Add(headers, DeadLetterHeaders.Attempts, deadLetter.Attempts.ToString(CultureInfo.InvariantCulture));

        var topic = GetTopic(record.Topic);
        await _producer.Value.ProduceAsync(
            topic,
            new Message<byte[]?, byte[]?> { Key = record.Key, Value = record.Value, Headers = headers },
            cancellationToken).ConfigureAwait(false);
        return topic;
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(_flushTimeout);
            _producer.Value.Dispose();
        }
    }

    private static void Add(Headers headers, string name, string value) => headers.Add(name, Encoding.UTF8.GetBytes(value));
}
