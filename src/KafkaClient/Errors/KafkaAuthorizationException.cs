namespace KafkaClient.Errors;

/// <summary>
/// The broker refused an operation because the authenticated principal lacks the permission (ACL) for it:
/// <see cref="ErrorCode.TopicAuthorizationFailed"/>, <see cref="ErrorCode.GroupAuthorizationFailed"/>,
/// <see cref="ErrorCode.ClusterAuthorizationFailed"/>, <see cref="ErrorCode.TransactionalIdAuthorizationFailed"/>
/// or <see cref="ErrorCode.DelegationTokenAuthorizationFailed"/>. Not retriable until the ACLs change.
/// </summary>
public sealed class KafkaAuthorizationException : KafkaException
{
    /// <summary>Creates an authorization exception.</summary>
    /// <param name="errorCode">One of the <c>*_AUTHORIZATION_FAILED</c> codes.</param>
    /// <param name="message">What was refused (for example the topic names); null uses the code's description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="errorCode"/> is not an authorization code.</exception>
    public KafkaAuthorizationException(ErrorCode errorCode, string? message = null, Exception? innerException = null)
        : base(Check(errorCode), message, isRetriable: false, innerException)
    {
    }

    private static ErrorCode Check(ErrorCode errorCode) =>
        ErrorCodes.IsAuthorizationError(errorCode)
            ? errorCode
            : throw new ArgumentOutOfRangeException(nameof(errorCode), errorCode, "Not an authorization error code.");
}
