using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>One NAT lab and engine shared by the NAT tests of a class.</summary>
public sealed class NatLab : IDisposable
{
    private readonly Lazy<(NamespaceLab Lab, EngineProcess Engine)> _state = new(() =>
    {
        var lab = NamespaceLab.UpNat(2);
        try
        {
            var config = lab.WriteNatConfig();
            return (lab, EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock")));
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    });

    public NamespaceLab Lab => _state.Value.Lab;
    public EngineProcess Engine => _state.Value.Engine;

    public void Dispose()
    {
        if (!_state.IsValueCreated) return;
        _state.Value.Engine.Dispose();
        _state.Value.Lab.Dispose();
    }
}
