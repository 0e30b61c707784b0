using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FluentAssertions;
using KafkaClient.Errors;
using Xunit;

namespace KafkaClient.Tests.Errors;

public sealed class ErrorCodesTests
{
    private static readonly ErrorCode[] AllCodes = Enum.GetValues<ErrorCode>();

    [Theory]
    [InlineData(ErrorCode.UnknownServerError, -1)]
    [InlineData(ErrorCode.None, 0)]
    [InlineData(ErrorCode.OffsetOutOfRange, 1)]
    [InlineData(ErrorCode.CorruptMessage, 2)]
    [InlineData(ErrorCode.UnknownTopicOrPartition, 3)]
    [InlineData(ErrorCode.LeaderNotAvailable, 5)]
    [InlineData(ErrorCode.NotLeaderOrFollower, 6)]
    [InlineData(ErrorCode.RequestTimedOut, 7)]
    [InlineData(ErrorCode.MessageTooLarge, 10)]
    [InlineData(ErrorCode.NetworkException, 13)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, 14)]
    [InlineData(ErrorCode.CoordinatorNotAvailable, 15)]
    [InlineData(ErrorCode.NotCoordinator, 16)]
    [InlineData(ErrorCode.InvalidTopicException, 17)]
    [InlineData(ErrorCode.IllegalGeneration, 22)]
    [InlineData(ErrorCode.UnknownMemberId, 25)]
    [InlineData(ErrorCode.RebalanceInProgress, 27)]
    [InlineData(ErrorCode.TopicAuthorizationFailed, 29)]
    [InlineData(ErrorCode.GroupAuthorizationFailed, 30)]
    [InlineData(ErrorCode.ClusterAuthorizationFailed, 31)]
    [InlineData(ErrorCode.UnsupportedSaslMechanism, 33)]
    [InlineData(ErrorCode.IllegalSaslState, 34)]
    [InlineData(ErrorCode.UnsupportedVersion, 35)]
    [InlineData(ErrorCode.TopicAlreadyExists, 36)]
    [InlineData(ErrorCode.NotController, 41)]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber, 45)]
    [InlineData(ErrorCode.DuplicateSequenceNumber, 46)]
    [InlineData(ErrorCode.InvalidProducerEpoch, 47)]
    [InlineData(ErrorCode.InvalidTxnState, 48)]
    [InlineData(ErrorCode.ConcurrentTransactions, 51)]
    [InlineData(ErrorCode.TransactionalIdAuthorizationFailed, 53)]
    [InlineData(ErrorCode.KafkaStorageError, 56)]
    [InlineData(ErrorCode.SaslAuthenticationFailed, 58)]
    [InlineData(ErrorCode.UnknownProducerId, 59)]
    [InlineData(ErrorCode.DelegationTokenAuthorizationFailed, 65)]
    [InlineData(ErrorCode.FencedLeaderEpoch, 74)]
    [InlineData(ErrorCode.UnknownLeaderEpoch, 75)]
    [InlineData(ErrorCode.MemberIdRequired, 79)]
    [InlineData(ErrorCode.FencedInstanceId, 82)]
    [InlineData(ErrorCode.ThrottlingQuotaExceeded, 89)]
    [InlineData(ErrorCode.ProducerFenced, 90)]
    [InlineData(ErrorCode.UnknownTopicId, 100)]
    [InlineData(ErrorCode.FencedMemberEpoch, 110)]
    [InlineData(ErrorCode.StaleMemberEpoch, 113)]
    [InlineData(ErrorCode.TransactionAbortable, 120)]
    [InlineData(ErrorCode.InvalidRecordState, 121)]
    [InlineData(ErrorCode.ShareSessionNotFound, 122)]
    [InlineData(ErrorCode.InvalidShareSessionEpoch, 123)]
    [InlineData(ErrorCode.FencedStateEpoch, 124)]
    [InlineData(ErrorCode.InvalidVoterKey, 125)]
    [InlineData(ErrorCode.DuplicateVoter, 126)]
    [InlineData(ErrorCode.VoterNotFound, 127)]
    [InlineData(ErrorCode.InvalidRegularExpression, 128)]
    [InlineData(ErrorCode.RebootstrapRequired, 129)]
    [InlineData(ErrorCode.StreamsInvalidTopology, 130)]
    [InlineData(ErrorCode.StreamsInvalidTopologyEpoch, 131)]
    [InlineData(ErrorCode.StreamsTopologyFenced, 132)]
    [InlineData(ErrorCode.ShareSessionLimitReached, 133)]
    [InlineData(ErrorCode.GroupDeletionFailed, 134)]
    [InlineData(ErrorCode.StreamsTopologyDescriptionUpdateFailed, 135)]
    [InlineData(ErrorCode.ControllerIdNotRegistered, 136)]
    public void Well_known_codes_have_the_protocol_numbers(ErrorCode code, short expected) =>
        ((short)code).Should().Be(expected);

    [Fact]
    public void Codes_run_without_gaps_from_minus_one_to_the_newest()
    {
        AllCodes.Select(c => (int)(short)c).Order().Should().Equal(Enumerable.Range(-1, 138));
    }

    [Fact]
    public void Every_code_has_a_table_entry_with_name_and_description()
    {
        foreach (ErrorCode code in AllCodes)
        {
            ErrorCodes.IsKnown(code).Should().BeTrue($"{code} should be in the table");
            ErrorCodes.ProtocolName(code).Should().NotBeNullOrWhiteSpace();
            ErrorCodes.ProtocolName(code).Should().NotStartWith("UNKNOWN(");
            string description = ErrorCodes.Describe(code);
            description.Should().NotBeNullOrWhiteSpace();
            description.Should().EndWith(".", $"the description of {code} should be a sentence");
            description.Should().NotBe(code.ToString());
        }
    }

    [Fact]
    public void Protocol_names_are_the_enum_names_in_upper_snake_case()
    {
        foreach (ErrorCode code in AllCodes)
        {
            ErrorCodes.ProtocolName(code).Should().Be(UpperSnake(code.ToString()), $"the table row for {(short)code} should be {code}");
        }
    }

    [Fact]
    public void Protocol_names_and_descriptions_are_unique()
    {
        AllCodes.Select(ErrorCodes.ProtocolName).Should().OnlyHaveUniqueItems();
        AllCodes.Select(ErrorCodes.Describe).Should().OnlyHaveUniqueItems();
    }

    [Theory]
    [InlineData(ErrorCode.NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER")]
    [InlineData(ErrorCode.UnknownServerError, "UNKNOWN_SERVER_ERROR")]
    [InlineData(ErrorCode.None, "NONE")]
    [InlineData(ErrorCode.InvalidTopicException, "INVALID_TOPIC_EXCEPTION")]
    [InlineData(ErrorCode.RecordListTooLarge, "RECORD_LIST_TOO_LARGE")]
    [InlineData(ErrorCode.InvalidTxnState, "INVALID_TXN_STATE")]
    [InlineData(ErrorCode.FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR")]
    public void Protocol_name_samples(ErrorCode code, string name) =>
        ErrorCodes.ProtocolName(code).Should().Be(name);

    // Retriable means Kafka's exception for the code extends RetriableException.
    [Theory]
    [InlineData(ErrorCode.CorruptMessage)]
    [InlineData(ErrorCode.UnknownTopicOrPartition)]
    [InlineData(ErrorCode.LeaderNotAvailable)]
    [InlineData(ErrorCode.NotLeaderOrFollower)]
    [InlineData(ErrorCode.RequestTimedOut)]
    [InlineData(ErrorCode.ReplicaNotAvailable)]
    [InlineData(ErrorCode.NetworkException)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress)]
    [InlineData(ErrorCode.CoordinatorNotAvailable)]
    [InlineData(ErrorCode.NotCoordinator)]
    [InlineData(ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.NotEnoughReplicasAfterAppend)]
    [InlineData(ErrorCode.NotController)]
    [InlineData(ErrorCode.ConcurrentTransactions)]
    [InlineData(ErrorCode.KafkaStorageError)]
    [InlineData(ErrorCode.FetchSessionIdNotFound)]
    [InlineData(ErrorCode.InvalidFetchSessionEpoch)]
    [InlineData(ErrorCode.ListenerNotFound)]
    [InlineData(ErrorCode.FencedLeaderEpoch)]
    [InlineData(ErrorCode.UnknownLeaderEpoch)]
    [InlineData(ErrorCode.OffsetNotAvailable)]
    [InlineData(ErrorCode.PreferredLeaderNotAvailable)]
    [InlineData(ErrorCode.EligibleLeadersNotAvailable)]
    [InlineData(ErrorCode.ElectionNotNeeded)]
    [InlineData(ErrorCode.UnstableOffsetCommit)]
    [InlineData(ErrorCode.ThrottlingQuotaExceeded)]
    [InlineData(ErrorCode.UnknownTopicId)]
    [InlineData(ErrorCode.InconsistentTopicId)]
    [InlineData(ErrorCode.FetchSessionTopicIdError)]
    [InlineData(ErrorCode.ShareSessionNotFound)]
    [InlineData(ErrorCode.InvalidShareSessionEpoch)]
    [InlineData(ErrorCode.ShareSessionLimitReached)]
    public void Retriable_codes_match_kafka(ErrorCode code) =>
        ErrorCodes.IsRetriable(code).Should().BeTrue();

    [Fact]
    public void Exactly_the_kafka_retriable_codes_are_retriable()
    {
        AllCodes.Count(ErrorCodes.IsRetriable).Should().Be(32);
    }

    [Theory]
    [InlineData(ErrorCode.UnknownServerError)]
    [InlineData(ErrorCode.None)]
    [InlineData(ErrorCode.OffsetOutOfRange)]
    [InlineData(ErrorCode.BrokerNotAvailable)]
    [InlineData(ErrorCode.MessageTooLarge)]
    [InlineData(ErrorCode.RebalanceInProgress)]
    [InlineData(ErrorCode.TopicAuthorizationFailed)]
    [InlineData(ErrorCode.SaslAuthenticationFailed)]
    [InlineData(ErrorCode.UnsupportedVersion)]
    [InlineData(ErrorCode.InvalidRequest)]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber)]
    [InlineData(ErrorCode.DuplicateSequenceNumber)]
    [InlineData(ErrorCode.InvalidProducerEpoch)]
    [InlineData(ErrorCode.UnknownProducerId)]
    [InlineData(ErrorCode.ProducerFenced)]
    [InlineData(ErrorCode.FencedInstanceId)]
    [InlineData(ErrorCode.TransactionAbortable)]
    [InlineData(ErrorCode.InvalidRegularExpression)]
    [InlineData(ErrorCode.RebootstrapRequired)]
    [InlineData(ErrorCode.StreamsTopologyFenced)]
    [InlineData(ErrorCode.GroupDeletionFailed)]
    [InlineData(ErrorCode.ControllerIdNotRegistered)]
    public void Non_retriable_codes_match_kafka(ErrorCode code) =>
        ErrorCodes.IsRetriable(code).Should().BeFalse();

    [Theory]
    [InlineData(ErrorCode.NotLeaderOrFollower)]
    [InlineData(ErrorCode.UnknownTopicOrPartition)]
    [InlineData(ErrorCode.LeaderNotAvailable)]
    [InlineData(ErrorCode.FencedLeaderEpoch)]
    [InlineData(ErrorCode.UnknownLeaderEpoch)]
    [InlineData(ErrorCode.ReplicaNotAvailable)]
    [InlineData(ErrorCode.KafkaStorageError)]
    [InlineData(ErrorCode.UnknownTopicId)]
    public void Metadata_codes_ask_for_a_refresh(ErrorCode code)
    {
        ErrorCodes.IsInvalidMetadata(code).Should().BeTrue();
        ErrorCodes.IsCoordinatorError(code).Should().BeFalse();
    }

    [Theory]
    [InlineData(ErrorCode.NotCoordinator)]
    [InlineData(ErrorCode.CoordinatorNotAvailable)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress)]
    public void Coordinator_codes_are_separate_from_metadata_codes(ErrorCode code)
    {
        ErrorCodes.IsCoordinatorError(code).Should().BeTrue();
        ErrorCodes.IsInvalidMetadata(code).Should().BeFalse();
    }

    [Fact]
    public void Metadata_and_coordinator_codes_are_all_retriable()
    {
        AllCodes.Where(c => ErrorCodes.IsInvalidMetadata(c) || ErrorCodes.IsCoordinatorError(c))
            .Should().OnlyContain(c => ErrorCodes.IsRetriable(c));
    }

    [Theory]
    [InlineData(ErrorCode.None)]
    [InlineData(ErrorCode.RequestTimedOut)]
    [InlineData(ErrorCode.TopicAuthorizationFailed)]
    [InlineData(ErrorCode.NotController)]
    public void Other_codes_are_neither_metadata_nor_coordinator_errors(ErrorCode code)
    {
        ErrorCodes.IsInvalidMetadata(code).Should().BeFalse();
        ErrorCodes.IsCoordinatorError(code).Should().BeFalse();
    }

    [Theory]
    [InlineData((short)137)]
    [InlineData((short)999)]
    [InlineData((short)-2)]
    [InlineData(short.MaxValue)]
    [InlineData(short.MinValue)]
    public void Unknown_codes_from_a_newer_broker_do_not_crash(short value)
    {
        var code = (ErrorCode)value;

        ErrorCodes.IsKnown(code).Should().BeFalse();
        ErrorCodes.ProtocolName(code).Should().Be($"UNKNOWN({value})");
        ErrorCodes.IsRetriable(code).Should().BeFalse();
        ErrorCodes.IsInvalidMetadata(code).Should().BeFalse();
        ErrorCodes.IsCoordinatorError(code).Should().BeFalse();
        ErrorCodes.Describe(code).Should().Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Enum_documentation_matches_the_table_descriptions()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "KafkaClient.xml");
        if (!File.Exists(path))
        {
            Assert.Skip("KafkaClient.xml was not copied next to the tests.");
        }

        XDocument doc = XDocument.Load(path);
        var summaries = doc.Descendants("member")
            .Where(m => ((string?)m.Attribute("name"))?.StartsWith("F:KafkaClient.Errors.ErrorCode.", StringComparison.Ordinal) == true)
            .ToDictionary(
                m => ((string)m.Attribute("name")!)["F:KafkaClient.Errors.ErrorCode.".Length..],
                m => Regex.Replace(m.Element("summary")!.Value, @"\s+", " ").Trim());

        foreach (ErrorCode code in AllCodes)
        {
            summaries.Should().ContainKey(code.ToString());
            summaries[code.ToString()].Should().Be(ErrorCodes.Describe(code), $"the XML doc of {code} should say what the table says");
        }
    }

    private static string UpperSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (i > 0 && char.IsUpper(c))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(c));
        }

        return sb.ToString();
    }
}
