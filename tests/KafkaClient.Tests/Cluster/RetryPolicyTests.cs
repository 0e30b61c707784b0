using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaClient.Tests.Cluster;

public sealed class RetryPolicyTests
{
    private static readonly KafkaClientOptions Fast = KafkaClientOptions.Default with
    {
        RetryBackoff = TimeSpan.FromMilliseconds(1),
        RetryBackoffMax = TimeSpan.FromMilliseconds(5),
    };

    private readonly RetryPolicy _policy = new(Fast, NullLogger.Instance);

    [Fact]
    public async Task Retriable_errors_are_retried_until_the_operation_succeeds()
    {
        int attempts = 0;
        var result = await _policy.ExecuteAsync(_ =>
        {
            attempts++;
            return attempts < 4 ? throw new KafkaException(ErrorCode.RequestTimedOut) : Task.FromResult(42);
        }, TimeSpan.FromSeconds(30), null, TestContext.Current.CancellationToken);

        result.Should().Be(42);
        attempts.Should().Be(4);
    }

    [Fact]
    public async Task Non_retriable_errors_fail_at_once()
    {
        int attempts = 0;
        var act = () => _policy.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new KafkaException(ErrorCode.InvalidTopicException);
        }, TimeSpan.FromSeconds(30), null, TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<KafkaException>()).Which.ErrorCode.Should().Be(ErrorCode.InvalidTopicException);
        attempts.Should().Be(1);
    }

    [Fact]
    public async Task A_connection_failure_with_unknown_outcome_is_not_retried()
    {
        int attempts = 0;
        var act = () => _policy.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new KafkaConnectionException("b:9092", "lost", outcomeUnknown: true);
        }, TimeSpan.FromSeconds(30), null, TestContext.Current.CancellationToken);

        await act.Should().ThrowAsync<KafkaConnectionException>();
        attempts.Should().Be(1);
    }

    [Fact]
    public async Task Stale_metadata_errors_refresh_metadata_before_the_next_attempt()
    {
        var events = new List<string>();
        await _policy.ExecuteAsync(_ =>
        {
            events.Add("attempt");
            return events.Count == 1 ? throw new KafkaException(ErrorCode.NotLeaderOrFollower) : Task.FromResult(true);
        }, TimeSpan.FromSeconds(30), _ =>
        {
            events.Add("refresh");
            return Task.CompletedTask;
        }, TestContext.Current.CancellationToken);

        events.Should().Equal("attempt", "refresh", "attempt");
    }

    [Fact]
    public async Task The_deadline_bounds_retries_and_reports_the_last_error()
    {
        var act = () => _policy.ExecuteAsync<int>(_ => throw new KafkaException(ErrorCode.LeaderNotAvailable),
            TimeSpan.FromMilliseconds(200), null, TestContext.Current.CancellationToken);

        var thrown = await act.Should().ThrowAsync<KafkaTimeoutException>();
        thrown.Which.InnerException.Should().BeOfType<KafkaException>().Which.ErrorCode.Should().Be(ErrorCode.LeaderNotAvailable);
    }
}
