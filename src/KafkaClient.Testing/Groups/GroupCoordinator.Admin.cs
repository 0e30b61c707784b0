using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

internal sealed partial class GroupCoordinator
{
    /// <summary>Every operation a Group resource supports (READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS), as an ACL bit field.</summary>
    private const int GroupAuthorizedOperations = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

    /// <summary>
    /// DescribeGroups (versions 0-6). A missing group is reported Dead with no error before v6,
    /// and with GROUP_ID_NOT_FOUND from v6. Member metadata and assignments are shown only
    /// while the group is Stable, as Kafka does.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<DescribeGroupsResponse> DescribeGroupsAsync(DescribeGroupsRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<DescribeGroupsResponse>(cancellationToken);
        }
        int operations = version >= 3 && request.IncludeAuthorizedOperations ? GroupAuthorizedOperations : int.MinValue;
        var response = new DescribeGroupsResponse();
        foreach (var groupId in request.Groups)
        {
            var described = _disposed
                ? new DescribeGroupsResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ShutdownError }
                : WithGroup(groupId, create: false, group => group is null || _disposed ? MissingGroup(groupId, version) : Describe(group));
            described.AuthorizedOperations = described.ErrorCode == 0 ? operations : int.MinValue;
            response.Groups.Add(described);
        }
        return Task.FromResult(response);
    }

    private DescribeGroupsResponse.DescribedGroup MissingGroup(string groupId, short version)
    {
        if (_disposed)
        {
            return new DescribeGroupsResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ShutdownError };
        }
        var described = new DescribeGroupsResponse.DescribedGroup { GroupId = groupId, GroupState = nameof(ClassicGroupState.Dead) };
        if (version >= 6)
        {
            described.ErrorCode = (short)ErrorCode.GroupIdNotFound;
            described.ErrorMessage = $"Group {groupId} not found.";
        }
        return described;
    }

    private static DescribeGroupsResponse.DescribedGroup Describe(ClassicGroup group)
    {
        bool stable = group.State == ClassicGroupState.Stable;
        string protocol = stable ? group.ProtocolName ?? "" : "";
        return new DescribeGroupsResponse.DescribedGroup
        {
            GroupId = group.GroupId,
            GroupState = group.StateName,
            ProtocolType = group.ProtocolType ?? "",
            ProtocolData = protocol,
            Members = group.OrderedMembers.Select(m => new DescribeGroupsResponse.DescribedGroupMember
            {
                MemberId = m.MemberId,
                GroupInstanceId = m.GroupInstanceId,
                ClientId = m.ClientId,
                ClientHost = m.ClientHost,
                MemberMetadata = stable ? m.MetadataFor(protocol) ?? [] : ReadOnlyMemory<byte>.Empty,
                MemberAssignment = stable ? m.Assignment : ReadOnlyMemory<byte>.Empty,
            }).ToList(),
        };
    }

    /// <summary>
    /// ListGroups (versions 0-5): every live group, filtered by state (v4+, case-insensitive) and
    /// type (v5+; all groups here are "classic").
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<ListGroupsResponse> ListGroupsAsync(ListGroupsRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ListGroupsResponse>(cancellationToken);
        }
        if (_disposed)
        {
            return Task.FromResult(new ListGroupsResponse { ErrorCode = (short)ShutdownError });
        }
        var states = version >= 4 ? new HashSet<string>(request.StatesFilter, StringComparer.OrdinalIgnoreCase) : [];
        var types = version >= 5 ? new HashSet<string>(request.TypesFilter, StringComparer.OrdinalIgnoreCase) : [];
        var response = new ListGroupsResponse();
        if (types.Count > 0 && !types.Contains(ClassicGroupType))
        {
            return Task.FromResult(response);
        }
        foreach (var groupId in _groups.Keys.Order(StringComparer.Ordinal))
        {
            var listed = WithGroup(groupId, create: false, group => group is null ? null : new ListGroupsResponse.ListedGroup
            {
                GroupId = group.GroupId,
                ProtocolType = group.ProtocolType ?? "",
                GroupState = group.StateName,
                GroupType = ClassicGroupType,
            });
            if (listed is not null && (states.Count == 0 || states.Contains(listed.GroupState)))
            {
                response.Groups.Add(listed);
            }
        }
        return Task.FromResult(response);
    }

    /// <summary>
    /// DeleteGroups (versions 0-2): deletes Empty groups and their offsets; NON_EMPTY_GROUP
    /// while members remain, GROUP_ID_NOT_FOUND for unknown groups.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<DeleteGroupsResponse> DeleteGroupsAsync(DeleteGroupsRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<DeleteGroupsResponse>(cancellationToken);
        }
        var response = new DeleteGroupsResponse();
        foreach (var groupId in request.GroupsNames.Distinct(StringComparer.Ordinal))
        {
            var error = _disposed ? ShutdownError : WithGroup(groupId, create: false, group =>
            {
                if (_disposed)
                {
                    return ShutdownError;
                }
                if (group is null)
                {
                    return ErrorCode.GroupIdNotFound;
                }
                if (group.State != ClassicGroupState.Empty)
                {
                    return ErrorCode.NonEmptyGroup;
                }
                DeleteGroup(group);
                return ErrorCode.None;
            });
            response.Results.Add(new DeleteGroupsResponse.DeletableGroupResult { GroupId = groupId, ErrorCode = (short)error });
        }
        return Task.FromResult(response);
    }
}
