using System.Collections.Concurrent;
using System.Reflection;
using KafkaClient.Protocol;

namespace KafkaClient.Testing.Server;

/// <summary>
/// Sets <c>ThrottleTimeMs</c> on any generated response that has it (for the throttle fault).
/// The generated messages share no interface for the field, so it is found once per type by name.
/// </summary>
internal static class ThrottleTime
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo?> Properties = new();

    /// <summary>Sets the throttle time; false when the response type has no such field.</summary>
    public static bool TrySet(IKafkaResponse response, TimeSpan throttle)
    {
        var property = Properties.GetOrAdd(response.GetType(), static type => type.GetProperty("ThrottleTimeMs", typeof(int)));
        if (property is null)
        {
            return false;
        }
        property.SetValue(response, (int)Math.Min(int.MaxValue, throttle.TotalMilliseconds));
        return true;
    }
}
