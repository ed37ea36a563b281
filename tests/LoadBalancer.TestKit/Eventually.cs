namespace LoadBalancer.TestKit;

/// <summary>Waits for a condition that other threads bring about, with a bound, instead of sleeping a
/// guessed time. The bound is generous: it only decides how long a broken test takes to fail.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(20);

    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? bound = null)
    {
        var deadline = DateTime.UtcNow + (bound ?? DefaultBound);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(2).ConfigureAwait(false);
        }
    }
}
