using FluentAssertions;
using KafkaClient.Errors;
using Xunit;

namespace KafkaClient.Tests.Errors;

public sealed class KafkaExceptionTests
{
    [Theory]
    [InlineData(ErrorCode.RequestTimedOut, typeof(KafkaTimeoutException))]
    [InlineData(ErrorCode.UnsupportedVersion, typeof(UnsupportedVersionException))]
    [InlineData(ErrorCode.ProducerFenced, typeof(ProducerFencedException))]
    [InlineData(ErrorCode.InvalidProducerEpoch, typeof(ProducerFencedException))]
    [InlineData(ErrorCode.SaslAuthenticationFailed, typeof(KafkaAuthenticationException))]
    [InlineData(ErrorCode.IllegalSaslState, typeof(KafkaAuthenticationException))]
    [InlineData(ErrorCode.UnsupportedSaslMechanism, typeof(KafkaAuthenticationException))]
    [InlineData(ErrorCode.TopicAuthorizationFailed, typeof(KafkaAuthorizationException))]
    [InlineData(ErrorCode.GroupAuthorizationFailed, typeof(KafkaAuthorizationException))]
    [InlineData(ErrorCode.ClusterAuthorizationFailed, typeof(KafkaAuthorizationException))]
    [InlineData(ErrorCode.TransactionalIdAuthorizationFailed, typeof(KafkaAuthorizationException))]
    [InlineData(ErrorCode.DelegationTokenAuthorizationFailed, typeof(KafkaAuthorizationException))]
    [InlineData(ErrorCode.NotLeaderOrFollower, typeof(KafkaException))]
    [InlineData(ErrorCode.UnknownServerError, typeof(KafkaException))]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber, typeof(KafkaException))]
    [InlineData(ErrorCode.NetworkException, typeof(KafkaException))]
    [InlineData(ErrorCode.CorruptMessage, typeof(KafkaException))]
    public void FromErrorCode_returns_the_right_type(ErrorCode code, Type expected)
    {
        KafkaException ex = KafkaException.FromErrorCode(code);

        ex.Should().BeOfType(expected);
        ex.ErrorCode.Should().Be(code);
        ex.IsRetriable.Should().Be(ErrorCodes.IsRetriable(code));
    }

    [Fact]
    public void Every_known_error_code_maps_without_throwing_and_keeps_its_code()
    {
        foreach (ErrorCode code in Enum.GetValues<ErrorCode>().Where(c => c != ErrorCode.None))
        {
            KafkaException ex = KafkaException.FromErrorCode(code);
            ex.ErrorCode.Should().Be(code);
            ex.IsRetriable.Should().Be(ErrorCodes.IsRetriable(code), $"{code} should keep Kafka's retriable flag");
            ex.Message.Should().StartWith($"{ErrorCodes.ProtocolName(code)} ({(short)code}): ");
        }
    }

    [Fact]
    public void Message_starts_with_protocol_name_and_number_then_the_description()
    {
        KafkaException ex = KafkaException.FromErrorCode(ErrorCode.NotLeaderOrFollower);

        ex.Message.Should().Be("NOT_LEADER_OR_FOLLOWER (6): " + ErrorCodes.Describe(ErrorCode.NotLeaderOrFollower));
        ex.IsRetriable.Should().BeTrue();
    }

    [Fact]
    public void Broker_message_replaces_the_description()
    {
        KafkaException ex = KafkaException.FromErrorCode(ErrorCode.TopicAuthorizationFailed, "Not authorized to access topics: [orders]");

        ex.Should().BeOfType<KafkaAuthorizationException>();
        ex.Message.Should().Be("TOPIC_AUTHORIZATION_FAILED (29): Not authorized to access topics: [orders]");
        ex.IsRetriable.Should().BeFalse();
    }

    [Fact]
    public void Constructors_prefix_the_code()
    {
        new KafkaException(ErrorCode.RebalanceInProgress).Message
            .Should().Be("REBALANCE_IN_PROGRESS (27): " + ErrorCodes.Describe(ErrorCode.RebalanceInProgress));
        new KafkaException(ErrorCode.InvalidRequest, "bad field").Message.Should().Be("INVALID_REQUEST (42): bad field");
        new KafkaProtocolException("frame truncated").Message.Should().Be("CORRUPT_MESSAGE (2): frame truncated");
        new UnsupportedVersionException("Produce v3 needed").Message.Should().Be("UNSUPPORTED_VERSION (35): Produce v3 needed");
    }

    [Fact]
    public void FromErrorCode_rejects_none()
    {
        Action act = () => KafkaException.FromErrorCode(ErrorCode.None);

        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Unknown_code_becomes_a_plain_non_retriable_exception()
    {
        KafkaException ex = KafkaException.FromErrorCode((ErrorCode)999, "something new");

        ex.Should().BeOfType<KafkaException>();
        ex.ErrorCode.Should().Be((ErrorCode)999);
        ex.IsRetriable.Should().BeFalse();
        ex.Message.Should().Be("UNKNOWN(999): something new");
        KafkaException.FromErrorCode((ErrorCode)(-7)).Message.Should().StartWith("UNKNOWN(-7): ");
    }

    [Fact]
    public void Timeout_is_retriable()
    {
        var inner = new OperationCanceledException();
        var ex = new KafkaTimeoutException("Produce did not complete within 30s", inner);

        ex.IsRetriable.Should().BeTrue();
        ex.ErrorCode.Should().Be(ErrorCode.RequestTimedOut);
        ex.InnerException.Should().BeSameAs(inner);
        ex.Message.Should().Be("REQUEST_TIMED_OUT (7): Produce did not complete within 30s");
    }

    [Fact]
    public void Connection_failure_carries_endpoint_and_outcome()
    {
        var inner = new System.Net.Sockets.SocketException();
        var ex = new KafkaConnectionException("broker-1:9092", "connection reset", outcomeUnknown: true, inner);

        ex.IsRetriable.Should().BeTrue();
        ex.ErrorCode.Should().Be(ErrorCode.NetworkException);
        ex.Endpoint.Should().Be("broker-1:9092");
        ex.OutcomeUnknown.Should().BeTrue();
        ex.InnerException.Should().BeSameAs(inner);
        ex.Message.Should().StartWith("NETWORK_EXCEPTION (13): broker-1:9092: connection reset");
        ex.Message.Should().Contain("may have reached the broker");

        var before = new KafkaConnectionException("broker-2:9093", "connection refused");
        before.OutcomeUnknown.Should().BeFalse();
        before.Message.Should().Be("NETWORK_EXCEPTION (13): broker-2:9093: connection refused");
    }

    [Fact]
    public void Connection_failure_requires_an_endpoint()
    {
        Action act = () => _ = new KafkaConnectionException(null!, "x");

        act.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void Authentication_failure_is_not_retriable_and_defaults_to_sasl_failed()
    {
        var ex = new KafkaAuthenticationException("TLS handshake rejected the client certificate");

        ex.IsRetriable.Should().BeFalse();
        ex.ErrorCode.Should().Be(ErrorCode.SaslAuthenticationFailed);
        ex.Message.Should().Be("SASL_AUTHENTICATION_FAILED (58): TLS handshake rejected the client certificate");
    }

    [Fact]
    public void Subtypes_reject_codes_outside_their_family()
    {
        ((Action)(() => _ = new KafkaAuthenticationException(ErrorCode.TopicAuthorizationFailed))).Should().Throw<ArgumentOutOfRangeException>();
        ((Action)(() => _ = new KafkaAuthorizationException(ErrorCode.SaslAuthenticationFailed))).Should().Throw<ArgumentOutOfRangeException>();
        ((Action)(() => _ = new ProducerFencedException(ErrorCode.NotCoordinator))).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Producer_fenced_defaults_to_producer_fenced_code()
    {
        var ex = new ProducerFencedException();

        ex.ErrorCode.Should().Be(ErrorCode.ProducerFenced);
        ex.IsRetriable.Should().BeFalse();
        ex.Message.Should().StartWith("PRODUCER_FENCED (90): ");
    }

    [Fact]
    public void Subtypes_can_be_caught_as_kafka_exception()
    {
        Action act = () => throw KafkaException.FromErrorCode(ErrorCode.GroupAuthorizationFailed);

        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(ErrorCode.GroupAuthorizationFailed);
    }
}
