using System.Globalization;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>Invariant-culture formatting for everything this program prints or writes.</summary>
internal static class Fmt
{
    public static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture);

    public static string Ms(double milliseconds) => milliseconds.ToString("0.00", CultureInfo.InvariantCulture);
}
