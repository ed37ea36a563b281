namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>One lab and one engine shared by the tests of a class (building a lab costs seconds): built on
/// first use from <paramref name="up"/> and the config <paramref name="writeConfig"/> writes, torn down with
/// the fixture.</summary>
public abstract class EngineLab(Func<NamespaceLab> up, Func<NamespaceLab, string> writeConfig) : IDisposable
{
    private readonly Lazy<(NamespaceLab Lab, EngineProcess Engine)> _state = new(() =>
    {
        var lab = up();
        try
        {
            return (lab, EngineProcess.Start(lab, writeConfig(lab), Path.Combine(lab.Dir, "lb.sock")));
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
