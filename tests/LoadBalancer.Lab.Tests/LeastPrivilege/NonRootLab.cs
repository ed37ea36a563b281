using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.LeastPrivilege;

/// <summary>One lab and one run's users (<see cref="ServiceAccounts"/>), shared by the tests of a class and built on
/// first use; each test starts its own engines as the service user.</summary>
public abstract class NonRootLab(Func<NamespaceLab> up) : IDisposable
{
    private readonly Lazy<(ServiceAccounts Accounts, NamespaceLab Lab)> _state = new(() =>
    {
        var accounts = new ServiceAccounts();
        try
        {
            return (accounts, up());
        }
        catch
        {
            accounts.Dispose();
            throw;
        }
    });

    public ServiceAccounts Accounts => _state.Value.Accounts;
    public NamespaceLab Lab => _state.Value.Lab;

    public void Dispose()
    {
        if (!_state.IsValueCreated) return;
        _state.Value.Lab.Dispose();
        _state.Value.Accounts.Dispose();
    }
}

public sealed class NonRootDrLab() : NonRootLab(() => NamespaceLab.Up(2));

public sealed class NonRootNatLab() : NonRootLab(() => NamespaceLab.UpNat(2));

public sealed class NonRootClusterLab() : NonRootLab(() => NamespaceLab.UpCluster(3));
