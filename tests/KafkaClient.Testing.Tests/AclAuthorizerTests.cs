using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Testing.Security;

namespace KafkaClient.Testing.Tests;

/// <summary>The authorizer's decisions and the ACL filters, as Kafka's StandardAuthorizer makes them; no sockets.</summary>
public sealed class AclAuthorizerTests
{
    private const string Alice = "User:alice";
    private const string Host = "127.0.0.1";

    private static AclBinding Topic(string name, AclOperation operation, AclPermission permission = AclPermission.Allow,
        AclPatternType pattern = AclPatternType.Literal, string principal = Alice, string host = "*") =>
        new(AclResourceType.Topic, name, pattern, principal, host, operation, permission);

    private static AclAuthorizer With(params AclBinding[] acls)
    {
        var authorizer = new AclAuthorizer(enabled: true, superUsers: ["User:admin"], allowEveryoneIfNoAclFound: false);
        authorizer.Create(acls).Should().NotContain(r => r.Error != ErrorCode.None);
        return authorizer;
    }

    private static bool May(AclAuthorizer authorizer, AclOperation operation, string topic, string principal = Alice, string host = Host) =>
        authorizer.Authorize(principal, host, operation, AclResourceType.Topic, topic);

    [Fact]
    public void Without_any_acl_only_super_users_may_act_unless_everyone_is_allowed_when_no_acl_is_found()
    {
        var strict = With();
        May(strict, AclOperation.Read, "orders").Should().BeFalse();
        May(strict, AclOperation.Read, "orders", principal: "User:admin").Should().BeTrue();

        var open = new AclAuthorizer(enabled: true, superUsers: [], allowEveryoneIfNoAclFound: true);
        May(open, AclOperation.Read, "orders").Should().BeTrue();
        open.Create([Topic("orders", AclOperation.Read, principal: "User:bob")]);
        May(open, AclOperation.Read, "orders").Should().BeFalse("an ACL exists for the resource, and none grants alice");
        May(open, AclOperation.Read, "other").Should().BeTrue();

        var disabled = new AclAuthorizer(enabled: false, superUsers: [], allowEveryoneIfNoAclFound: false);
        May(disabled, AclOperation.Write, "orders").Should().BeTrue();
    }

    [Fact]
    public void Deny_wins_over_allow_and_all_covers_every_operation()
    {
        var authorizer = With(
            Topic("orders", AclOperation.All),
            Topic("orders", AclOperation.Write, AclPermission.Deny));

        May(authorizer, AclOperation.Read, "orders").Should().BeTrue();
        May(authorizer, AclOperation.Delete, "orders").Should().BeTrue();
        May(authorizer, AclOperation.Write, "orders").Should().BeFalse();

        authorizer.Create([Topic("orders", AclOperation.All, AclPermission.Deny, host: Host)]);
        May(authorizer, AclOperation.Read, "orders").Should().BeFalse("DENY ALL from this host");
        May(authorizer, AclOperation.Read, "orders", host: "10.0.0.1").Should().BeTrue();
    }

    [Fact]
    public void Read_write_delete_and_alter_imply_describe_and_alter_configs_implies_describe_configs()
    {
        foreach (var granted in new[] { AclOperation.Read, AclOperation.Write, AclOperation.Delete, AclOperation.Alter })
        {
            May(With(Topic("t", granted)), AclOperation.Describe, "t").Should().BeTrue($"{granted} implies DESCRIBE");
        }
        May(With(Topic("t", AclOperation.Create)), AclOperation.Describe, "t").Should().BeFalse("CREATE does not imply DESCRIBE");
        May(With(Topic("t", AclOperation.Describe)), AclOperation.Read, "t").Should().BeFalse("the implication goes one way");
        May(With(Topic("t", AclOperation.AlterConfigs)), AclOperation.DescribeConfigs, "t").Should().BeTrue();
        May(With(Topic("t", AclOperation.Read, AclPermission.Deny), Topic("t", AclOperation.Write)), AclOperation.Describe, "t")
            .Should().BeTrue("a DENY of READ does not deny the DESCRIBE that WRITE implies");
    }

    [Fact]
    public void Literal_wildcard_and_prefixed_patterns_and_the_wildcard_principal_apply_to_matching_names()
    {
        var authorizer = With(
            Topic("orders-", AclOperation.Read, pattern: AclPatternType.Prefixed),
            Topic("*", AclOperation.Describe, principal: "User:*"),
            Topic("orders-secret", AclOperation.Read, AclPermission.Deny));

        May(authorizer, AclOperation.Read, "orders-eu").Should().BeTrue();
        May(authorizer, AclOperation.Read, "orders").Should().BeFalse();
        May(authorizer, AclOperation.Read, "orders-secret").Should().BeFalse();
        May(authorizer, AclOperation.Describe, "anything", principal: "User:bob").Should().BeTrue();
        May(authorizer, AclOperation.Read, "anything", principal: "User:bob").Should().BeFalse();
    }

    [Fact]
    public void Idempotent_writes_are_allowed_by_write_on_any_topic_unless_write_is_denied_on_every_topic()
    {
        var none = With();
        none.AuthorizeAny(Alice, Host, AclOperation.Write, AclResourceType.Topic).Should().BeFalse();

        var some = With(Topic("orders-", AclOperation.Write, pattern: AclPatternType.Prefixed));
        some.AuthorizeAny(Alice, Host, AclOperation.Write, AclResourceType.Topic).Should().BeTrue();

        some.Create([Topic("*", AclOperation.Write, AclPermission.Deny)]);
        some.AuthorizeAny(Alice, Host, AclOperation.Write, AclResourceType.Topic).Should().BeFalse();
    }

    [Fact]
    public void Filters_follow_kafkas_match_any_and_exact_pattern_semantics()
    {
        var literal = Topic("orders-eu", AclOperation.Read);
        var wildcard = Topic("*", AclOperation.Read);
        var prefixed = Topic("orders-", AclOperation.Write, pattern: AclPatternType.Prefixed);
        var other = Topic("orders-us", AclOperation.Read);
        var group = new AclBinding(AclResourceType.Group, "orders-eu", AclPatternType.Literal, Alice, "*", AclOperation.Read, AclPermission.Allow);
        var authorizer = With(literal, wildcard, prefixed, other, group);

        AclBindingFilter Filter(AclResourceType type, string? name, AclPatternType pattern, AclOperation operation = AclOperation.Any) =>
            new(type, name, pattern, null, null, operation, AclPermission.Any);

        authorizer.Describe(Filter(AclResourceType.Topic, "orders-eu", AclPatternType.Match)).Should().BeEquivalentTo([literal, wildcard, prefixed]);
        authorizer.Describe(Filter(AclResourceType.Topic, "orders-eu", AclPatternType.Any)).Should().BeEquivalentTo([literal]);
        authorizer.Describe(Filter(AclResourceType.Any, "orders-eu", AclPatternType.Literal)).Should().BeEquivalentTo([literal, group]);
        authorizer.Describe(Filter(AclResourceType.Topic, null, AclPatternType.Prefixed)).Should().BeEquivalentTo([prefixed]);
        authorizer.Describe(Filter(AclResourceType.Any, null, AclPatternType.Any, AclOperation.Write)).Should().BeEquivalentTo([prefixed]);

        var deleted = authorizer.Delete([Filter(AclResourceType.Topic, "orders-eu", AclPatternType.Match), Filter(AclResourceType.Topic, "orders-eu", AclPatternType.Literal)]);
        deleted[0].Should().BeEquivalentTo([literal, wildcard, prefixed]);
        deleted[1].Should().BeEquivalentTo([literal], "a binding matched by two filters is reported under both");
        authorizer.All.Should().BeEquivalentTo([other, group]);
    }

    [Fact]
    public void New_acls_are_checked_as_kafka_checks_them_and_added_once()
    {
        var authorizer = With();
        var results = authorizer.Create(
        [
            Topic("t", AclOperation.Read),
            Topic("t", AclOperation.Read),
            Topic("t", AclOperation.Any),
            Topic("t", AclOperation.Read, pattern: AclPatternType.Match),
            Topic("t", AclOperation.Read, principal: "alice"),
            new AclBinding(AclResourceType.Cluster, "my-cluster", AclPatternType.Literal, Alice, "*", AclOperation.Alter, AclPermission.Allow),
            Topic("t", AclOperation.Read, AclPermission.Any),
        ]);

        results.Select(r => r.Error).Should().Equal(
            ErrorCode.None, ErrorCode.None, ErrorCode.InvalidRequest, ErrorCode.InvalidRequest,
            ErrorCode.InvalidRequest, ErrorCode.InvalidRequest, ErrorCode.InvalidRequest);
        results[4].Message.Should().Contain("principal");
        authorizer.All.Should().ContainSingle();
    }
}
