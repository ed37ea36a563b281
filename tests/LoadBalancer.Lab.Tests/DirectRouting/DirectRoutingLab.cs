using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>One lab and one engine shared by the DR tests of a class (building a lab costs seconds).</summary>
public sealed class DirectRoutingLab : IDisposable
{
    private readonly Lazy<(NamespaceLab Lab, EngineProcess Engine)> _state = new(() =>
    {
        var lab = NamespaceLab.Up(2);
        try
        {
            var config = lab.WriteDrConfig();
            var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
            return (lab, engine);
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
