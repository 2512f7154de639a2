using Confluent.Kafka;
using Microsoft.Extensions.Hosting;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// Runs one consumer group's <see cref="InboxConsumer"/>: joins the group at start and runs its poll loop on a thread of
/// its own (Confluent.Kafka's Consume and rebalance callbacks are blocking); stopping lets in-flight work finish, or
/// cancels it when the host's stop token fires.
/// </summary>
internal sealed class InboxConsumerHost(InboxConsumer consumer) : IHostedService, IAsyncDisposable
{
    private Task _pollThread = Task.CompletedTask;
    private int _disposed;

    public string ConsumerGroup => consumer.ConsumerGroup;

    /// <summary>Gets the topics the group reads.</summary>
    public IReadOnlyList<string> Topics => consumer.Topics;

    /// <summary>Gets the consumer this host runs.</summary>
    internal InboxConsumer Consumer => consumer;

    /// <summary>Gets the bytes of the records read ahead and not yet finished, over all partitions.</summary>
    internal long BufferedBytes => consumer.BufferedBytes;

    /// <summary>Gets the most bytes ever read ahead at once (see <see cref="InboxConsumerOptions.MaxBufferedBytes"/>).</summary>
    internal long PeakBufferedBytes => consumer.PeakBufferedBytes;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        consumer.Start();
        _pollThread = Task.Factory.StartNew(PollLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        consumer.RequestStop();
        using (cancellationToken.Register(static state => ((InboxConsumer)state!).Abort(), consumer))
        {
            await _pollThread.ConfigureAwait(false);
        }
    }

    /// <summary>Stops the poll thread; the container disposes the consumer afterwards (it was built first).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        consumer.RequestStop();
        consumer.Abort();
        await _pollThread.ConfigureAwait(false);
    }

    private void PollLoop()
    {
        try
        {
            while (!consumer.Stopping.IsCancellationRequested)
            {
                try
                {
                    consumer.PollOnce(consumer.NextPollTimeout);
                    consumer.ReportWaiting();
                }
                catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
                {
                    consumer.LogPollFailure(ex);
                }
                catch (Exception ex) when (!consumer.Stopping.IsCancellationRequested)
                {
                    // Not expected; the loop must outlive it (records are never stored past an unfinished one).
                    consumer.LogPollFailure(ex);
                    consumer.PauseAfterFailure();
                }
            }
        }
        finally
        {
            consumer.Shutdown();
        }
    }
}
