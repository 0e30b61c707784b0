using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// SaslHandshake v0-1: picks the mechanism for the connection. v1 continues with SaslAuthenticate
/// requests; v0 with bare SASL tokens (KIP-43), which <see cref="BrokerConnection"/> reads. An
/// unknown mechanism is UNSUPPORTED_SASL_MECHANISM with the enabled list, then the connection is
/// closed; a handshake out of turn (or on a listener without SASL) is ILLEGAL_SASL_STATE, as Kafka.
/// </summary>
internal sealed class SaslHandshakeHandler() : ApiHandler<SaslHandshakeRequest, SaslHandshakeResponse>(ApiKey.SaslHandshake)
{
    protected override ValueTask<SaslHandshakeResponse?> HandleAsync(RequestContext context, SaslHandshakeRequest request, CancellationToken cancellationToken)
    {
        var session = context.Session;
        var response = new SaslHandshakeResponse();
        if (session.State == SaslState.None)
        {
            // Kafka answers a handshake on a listener without SASL from KafkaApis, and keeps the connection.
            response.ErrorCode = ErrorCode.IllegalSaslState.Code();
            return ValueTask.FromResult<SaslHandshakeResponse?>(response);
        }
        response.Mechanisms = [.. SaslCredentialStore.EnabledMechanisms];
        if (session.State != SaslState.AwaitingHandshake)
        {
            response.ErrorCode = ErrorCode.IllegalSaslState.Code();
            context.CloseConnection = true;
            return ValueTask.FromResult<SaslHandshakeResponse?>(response);
        }
        if (!SaslCredentialStore.EnabledMechanisms.Contains(request.Mechanism))
        {
            response.ErrorCode = ErrorCode.UnsupportedSaslMechanism.Code();
            context.CloseConnection = true;
            return ValueTask.FromResult<SaslHandshakeResponse?>(response);
        }
        session.Mechanism = request.Mechanism;
        session.Exchange = SaslServerExchange.Create(request.Mechanism, session.Credentials!);
        session.State = context.ApiVersion == 0 ? SaslState.AwaitingRawToken : SaslState.AwaitingAuthenticate;
        return ValueTask.FromResult<SaslHandshakeResponse?>(response);
    }

    protected override SaslHandshakeResponse ErrorResponse(RequestContext context, SaslHandshakeRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), Mechanisms = [.. SaslCredentialStore.EnabledMechanisms] };
}

/// <summary>
/// SaslAuthenticate v0-2: one SASL token per request. Wrong credentials are
/// SASL_AUTHENTICATION_FAILED with Kafka's message, then the connection is closed. No session
/// lifetime (re-authentication, KIP-368, is not asked for).
/// </summary>
internal sealed class SaslAuthenticateHandler() : ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>(ApiKey.SaslAuthenticate)
{
    protected override ValueTask<SaslAuthenticateResponse?> HandleAsync(RequestContext context, SaslAuthenticateRequest request, CancellationToken cancellationToken)
    {
        var session = context.Session;
        if (session.State != SaslState.AwaitingAuthenticate || session.Exchange is null)
        {
            context.CloseConnection = session.State != SaslState.None;
            return ValueTask.FromResult<SaslAuthenticateResponse?>(new SaslAuthenticateResponse
            {
                ErrorCode = ErrorCode.IllegalSaslState.Code(),
                ErrorMessage = "SaslAuthenticate request received out of turn (no SaslHandshake v1 before it, or already authenticated).",
            });
        }
        var step = session.Exchange.Evaluate(request.AuthBytes.Span);
        if (step.Failure is { } failure)
        {
            context.CloseConnection = true;
            return ValueTask.FromResult<SaslAuthenticateResponse?>(new SaslAuthenticateResponse
            {
                ErrorCode = ErrorCode.SaslAuthenticationFailed.Code(),
                ErrorMessage = failure,
            });
        }
        if (step.AuthenticatedUser is { } user)
        {
            session.Authenticated(user);
        }
        return ValueTask.FromResult<SaslAuthenticateResponse?>(new SaslAuthenticateResponse { ErrorMessage = null, AuthBytes = step.Challenge });
    }

    protected override SaslAuthenticateResponse ErrorResponse(RequestContext context, SaslAuthenticateRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), ErrorMessage = null };
}
