namespace KafkaClient.Testing.State;

/// <summary>
/// The log cleaner's delete half: every <see cref="EmbeddedKafkaClusterOptions.RetentionCheckInterval"/>
/// (a <see cref="TimeProvider"/> timer, so <c>FakeTimeProvider.Advance</c> drives it) each
/// partition of each topic whose <c>cleanup.policy</c> includes <c>delete</c> drops the batches
/// its <c>retention.ms</c> and <c>retention.bytes</c> (or the broker defaults) no longer keep.
/// </summary>
internal sealed class RetentionSweeper : IDisposable
{
    private readonly ClusterState _cluster;
    private readonly ITimer _timer;
    private int _sweeping;

    public RetentionSweeper(ClusterState cluster)
    {
        _cluster = cluster;
        var interval = cluster.Options.RetentionCheckInterval;
        _timer = cluster.Options.TimeProvider.CreateTimer(static state => ((RetentionSweeper)state!).Sweep(), this, interval, interval);
    }

    /// <summary>One pass over every partition; returns the batches deleted. A pass already running (a slow tick) is not overlapped.</summary>
    public int Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return 0;
        }
        try
        {
            var options = _cluster.Options;
            long now = _cluster.NowMs;
            int deleted = 0;
            foreach (var topic in _cluster.Topics())
            {
                if (!topic.DeletesOldRecords)
                {
                    continue;
                }
                long retentionMs = topic.RetentionMs(options.LogRetentionMs);
                long retentionBytes = topic.RetentionBytes(options.LogRetentionBytes);
                if (retentionMs < 0 && retentionBytes < 0)
                {
                    continue;
                }
                foreach (var partition in topic.Partitions)
                {
                    deleted += partition.Log.ApplyRetention(now, retentionMs, retentionBytes);
                }
            }
            if (deleted > 0)
            {
                SlabMemory.ReleaseDropped();
            }
            return deleted;
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    public void Dispose() => _timer.Dispose();
}
