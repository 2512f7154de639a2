namespace Outbox.Providers;

/// <summary>The values of <see cref="ParkedRecord.State"/>: the state of a row of the inbox's parked table. For provider packages; applications do not use this.</summary>
public static class ParkedState
{
    /// <summary>The record failed for good; later records of its key (a non-null key) are held behind it.</summary>
    public const string Parked = "parked";

    /// <summary>A later record of a parked key, waiting in offset order behind the parked one.</summary>
    public const string Held = "held";

    /// <summary>A record the inbox could not read that the dead-letter topic refused: kept here, its key goes on.</summary>
    public const string DeadLetter = "dead_letter";
}
