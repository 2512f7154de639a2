namespace Outbox.EntityFrameworkCore;

/// <summary>
/// An event and the entity that raised it (<see langword="null"/> for events added through <see cref="IOutbox"/>), and,
/// once written, the id of its outbox row.
/// </summary>
internal readonly record struct WrittenEvent(object Event, IHasDomainEvents? Owner, Guid RowId = default);
