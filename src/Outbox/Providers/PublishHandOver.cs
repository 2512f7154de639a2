namespace Outbox.Providers;

/// <summary>A publish call whose records were handed to the producer in order; its delivery results are pending. For provider packages; applications do not call this.</summary>
/// <param name="Refused">
/// Whether a record could not even be handed over (it is <see cref="PublishStatus.Failed"/> and every later record of the
/// call <see cref="PublishStatus.NotAttempted"/>). A caller must not hand over later records until it has settled this
/// call: they would overtake the refused one.
/// </param>
/// <param name="Results">Completes when every record has a result; aligned with the messages given.</param>
public readonly record struct PublishHandOver(bool Refused, Task<PublishResult[]> Results);
