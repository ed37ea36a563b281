namespace LoadBalancer.Linux.Tests;

/// <summary>A test that needs root (CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW): skipped, with the reason, elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(string why)
    {
        if (!Environment.IsPrivilegedProcess) Skip = $"{why}: run the tests as root";
    }
}

/// <summary>A theory that needs root: skipped, with the reason, elsewhere.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute(string why)
    {
        if (!Environment.IsPrivilegedProcess) Skip = $"{why}: run the tests as root";
    }
}
