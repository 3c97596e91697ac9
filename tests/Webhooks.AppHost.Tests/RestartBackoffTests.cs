using Webhooks.AppHost.Lifecycle;

namespace Webhooks.AppHost.Tests;

public sealed class RestartBackoffTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 16)]
    [InlineData(6, 30)]
    [InlineData(60, 30)]
    public void The_wait_doubles_from_one_second_up_to_thirty(int crash, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RestartBackoff.Default.Delay(crash));

    [Fact]
    public void A_run_of_a_minute_resets_the_count() =>
        Assert.Equal(TimeSpan.FromMinutes(1), RestartBackoff.Default.ResetAfter);
}
