using System.Globalization;
using System.Management.Automation;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Lets a TimeSpan parameter take a number of seconds (<c>-Timeout 30</c>) as well as a TimeSpan or
/// <c>'00:05:00'</c>; PowerShell alone would read a bare number as ticks.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class TimeSpanSecondsAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
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
