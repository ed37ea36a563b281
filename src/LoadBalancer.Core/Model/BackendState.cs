namespace LoadBalancer.Core.Model;

/// <summary>A backend's health as the checker sees it; kept apart from the operator's <see cref="BackendIntent"/>.</summary>
public enum BackendHealth : byte
{
    Unknown,
    Healthy,
    Unhealthy,
}

/// <summary>What the operator wants of a backend, whatever its health.</summary>
public enum BackendIntent : byte
{
    Active,
    Draining,
}

