using Microsoft.Playwright;

namespace MovieWatch.Tests;

/// <summary>A real headless Chromium presses "Watch now" and sees the event and the new recommendation on the page.</summary>
public sealed class BrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Watch_now_in_a_browser_shows_the_event_and_updates_recommendations()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install it with 'apt-get update && apt-get install -y chromium' (.ci/run does).");
        await using var host = await SampleHost.CreateAsync();
        var url = await host.StartWebAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        await page.GotoAsync(url);

        await page.Locator("#user").SelectOptionAsync("2");
        await page.Locator("button.watch[data-movie='19']").ClickAsync();

        var timeout = new LocatorAssertionsToContainTextOptions { Timeout = 60_000 };
        await Assertions.Expect(page.Locator("[data-testid=event]").First).ToContainTextAsync("movie 19", timeout);
        await Assertions.Expect(page.Locator("[data-testid=recs-summary]")).ToContainTextAsync("1 watched", timeout);
        await Assertions.Expect(page.Locator("[data-testid=recs-summary]")).ToContainTextAsync("Sci-Fi", timeout);

        await page.EvaluateAsync("window.scrollTo(0, 0)");
        var screenshots = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "screenshots");
        Directory.CreateDirectory(screenshots);
        var path = Path.GetFullPath(Path.Combine(screenshots, "moviewatch.png"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = false });
        Assert.True(new FileInfo(path).Length > 10_000);
    }
}
