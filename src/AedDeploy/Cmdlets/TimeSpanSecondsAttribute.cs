using System.Globalization;
using System.Management.Automation;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Lets a TimeSpan parameter take a number of seconds (<c>-Timeout 30</c>) as well as a TimeSpan or
/// <c>'00:05:00'</c> (PowerShell alone would read a bare number as ticks), and refuses a time that is not
/// longer than zero (or negative, with <see cref="AllowZero"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class TimeSpanSecondsAttribute : ArgumentTransformationAttribute
{
    /// <summary>Zero is a meaningful value (for example: do not wait).</summary>
    public bool AllowZero { get; set; }

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var converted = Convert(inputData);
        if (converted is TimeSpan time && (time < TimeSpan.Zero || (time == TimeSpan.Zero && !AllowZero)))
        {
            throw new ArgumentTransformationMetadataException(
                AllowZero ? $"{time} is negative: give a time of zero or more (seconds or hh:mm:ss)." : $"{time} is not longer than zero: give a positive time (seconds or hh:mm:ss).");
        }

        return converted;
    }

    private static object Convert(object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value switch
        {
            int seconds => TimeSpan.FromSeconds(seconds),
            long seconds => TimeSpan.FromSeconds(seconds),
            double seconds => TimeSpan.FromSeconds(seconds),
            decimal seconds => TimeSpan.FromSeconds((double)seconds),
            string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) => TimeSpan.FromSeconds(seconds),
            _ => inputData,
        };
    }
}
