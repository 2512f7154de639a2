using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Outbox.Providers;

namespace Outbox.PostgreSql.Inbox;

/// <summary>Registers the PostgreSQL inbox store; called by <c>UsePostgreSql</c>.</summary>
internal static class PostgreSqlInboxServiceCollectionExtensions
{
    public static IServiceCollection AddPostgreSqlInboxStore(this IServiceCollection services)
    {
        services.TryAddSingleton<IInboxStore>(sp => new PostgreSqlInboxStore(sp.GetRequiredService<IOptions<OutboxOptions>>().Value));
        return services;
    }
}
