using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace MovieWatch.Tests;

public sealed class ApiTests
{
    [Fact]
    public async Task Bad_input_gets_problem_details_and_writes_nothing()
    {
        await using var host = await SampleHost.CreateAsync();
        var url = await host.StartWebAsync();
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        var unknownUser = await http.PostAsJsonAsync("/api/watch", new { userId = 999, movieId = 1 });
        Assert.Equal(HttpStatusCode.NotFound, unknownUser.StatusCode);
        Assert.Equal("application/problem+json", unknownUser.Content.Headers.ContentType?.MediaType);
        Assert.Contains("User 999 does not exist", await unknownUser.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var unknownMovie = await http.PostAsJsonAsync("/api/watch", new { userId = 1, movieId = 999 });
        Assert.Equal(HttpStatusCode.NotFound, unknownMovie.StatusCode);
        Assert.Contains("Movie 999 does not exist", await unknownMovie.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var malformed = await http.PostAsync("/api/watch", new StringContent("{ \"userId\": ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        var status = await http.GetFromJsonAsync<StatusView>("/api/status");
        Assert.Equal(0, status!.Watches);
        Assert.Equal(0, status.OutboxPending);
    }

    [Fact]
    public async Task Watch_now_is_streamed_and_changes_recommendations()
    {
        await using var host = await SampleHost.CreateAsync();
        var url = await host.StartWebAsync();
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        var response = await http.PostAsJsonAsync("/api/watch", new { userId = 2, movieId = 19 });
        response.EnsureSuccessStatusCode();

        RecommendationView? view = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            view = await http.GetFromJsonAsync<RecommendationView>("/api/users/2/recommendations");
            if (view!.Watches == 1)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(1, view!.Watches);
        Assert.Equal("Sci-Fi", Assert.Single(view.Genres).Genre);
        Assert.All(view.Movies, m => Assert.Equal("Sci-Fi", m.Genre));
        Assert.DoesNotContain(view.Movies, m => m.Id == 19);
    }

    private sealed record StatusView(int Watches, int OutboxPending);
}
