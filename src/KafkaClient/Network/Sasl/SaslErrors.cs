using System.Text;
using KafkaClient.Errors;

namespace KafkaClient.Network.Sasl;

/// <summary>Builds the exceptions the SASL layer raises, in one place.</summary>
internal static class SaslErrors
{
    /// <summary>The Kafka protocol code for a failed SASL authentication (<c>SASL_AUTHENTICATION_FAILED</c>, 58).</summary>
    internal const ErrorCode SaslAuthenticationFailed = ErrorCode.SaslAuthenticationFailed;

    /// <summary>An authentication failure with <paramref name="message"/>, which must not contain secrets.</summary>
    public static KafkaAuthenticationException AuthenticationFailed(string message, Exception? innerException = null)
        => new(message, innerException);

    /// <summary>The failure to raise when the broker answers <c>SaslAuthenticate</c> with an error.</summary>
    public static KafkaAuthenticationException BrokerRejected(string mechanism, string? brokerErrorMessage, string? detail = null)
    {
        var message = new StringBuilder("SASL authentication with mechanism ").Append(mechanism).Append(" failed");
        if (!string.IsNullOrEmpty(brokerErrorMessage))
        {
            message.Append(": ").Append(Sanitize(brokerErrorMessage));
        }

        if (!string.IsNullOrEmpty(detail))
        {
            message.Append(" (").Append(detail).Append(')');
        }

        return AuthenticationFailed(message.Append('.').ToString());
    }

    /// <summary>
    /// Makes server-supplied text safe to put in a message: control characters replaced, length
    /// capped at <paramref name="maxLength"/> characters.
    /// </summary>
    public static string Sanitize(string text, int maxLength = 256)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 3);
        foreach (char c in text)
        {
            if (builder.Length == maxLength)
            {
                builder.Append("...");
                break;
            }

            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
